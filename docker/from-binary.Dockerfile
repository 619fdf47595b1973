# The msgsys image from build/image/msgsys, a static binary that
# scripts/build-image.sh compiles with a local Go before it builds this
# file with the repository root as the build context. It starts from
# scratch and pulls no image, so it builds where no registry is reachable.
# The Dockerfile at the root builds the same image from source. Its final
# stage and this one differ only in where the binary and /data come from
# (dockerfile_test.go checks this).
#
# No "# syntax=" line: it would make BuildKit pull a frontend image.

# Unused here. compose.yaml passes GO_IMAGE to the build of either file,
# and the classic builder warns about a build argument that no ARG declares.
ARG GO_IMAGE

FROM scratch AS from-binary
ARG VERSION=dev
LABEL org.opencontainers.image.title=msgsys \
      org.opencontainers.image.version=${VERSION}
COPY docker/etc/passwd docker/etc/group /etc/
ENV PATH=/usr/local/bin \
    MSGSYS_DATA=/data
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/msgsys"]
CMD ["--help"]
COPY build/image/msgsys /usr/local/bin/msgsys
# build/image/data is an empty directory. COPY creates /data with the
# owner given by --chown, so a new named volume mounted there is writable
# by user 10001.
COPY --chown=10001:10001 build/image/data /data
WORKDIR /data
