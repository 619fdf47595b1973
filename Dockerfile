# One image for every msgsys role: the static binary on an empty base,
# run as user 10001 with its data in /data. The command picks the role, as
# in `docker run msgsys:local server --name server-1`.
#
# Two final targets produce the same image:
#   from-source  (default) compiles inside the Go toolchain image, so a
#                machine with Docker alone can build it. It needs BuildKit
#                (the default builder since Docker Engine 23), which skips
#                the from-binary stage.
#   from-binary  copies build/image/msgsys, a static binary that
#                scripts/build-image.sh compiles with a local Go, so it
#                builds where no base image can be pulled. It comes before
#                any stage that pulls an image because the classic builder
#                builds every stage up to the target.
# compose.yaml picks the target from MSGSYS_IMAGE_TARGET.
#
# No "# syntax=" line: it would make BuildKit pull a frontend image.

ARG GO_IMAGE=golang:1.26

# Files every target shares: the user database and the runtime settings.
FROM scratch AS base
ARG VERSION=dev
LABEL org.opencontainers.image.title=msgsys \
      org.opencontainers.image.version=${VERSION}
COPY docker/etc/passwd docker/etc/group /etc/
ENV PATH=/usr/local/bin \
    MSGSYS_DATA=/data
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/msgsys"]
CMD ["--help"]

FROM base AS from-binary
COPY build/image/msgsys /usr/local/bin/msgsys
# build/image/data is an empty directory. COPY creates /data with the
# owner given by --chown, so a new named volume mounted there is writable
# by user 10001.
COPY --chown=10001:10001 build/image/data /data
WORKDIR /data

FROM ${GO_IMAGE} AS compile
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/msgsys . \
 && mkdir /out/data

FROM base AS from-source
COPY --from=compile /out/msgsys /usr/local/bin/msgsys
COPY --from=compile --chown=10001:10001 /out/data /data
WORKDIR /data
