# One image for every msgsys role: the static binary on an empty base,
# run as user 10001 with its data in /data. The command picks the role, as
# in `docker run msgsys:local server --name server-1`.
#
# This file compiles msgsys inside the Go toolchain image, so a machine
# with Docker alone can build it, with BuildKit or with the classic
# builder. docker/from-binary.Dockerfile builds the same image from a
# binary that scripts/build-image.sh compiles with a local Go, where no
# image can be pulled. It is a file of its own because the classic builder
# builds every stage before the target, so a stage here that copies that
# binary would fail every build from source. `docker build` and
# docker-compose 1.29 use the classic builder where the buildx plugin is
# not installed. compose.yaml picks the file from MSGSYS_DOCKERFILE.
#
# The final stages of both files differ only in where the binary and /data
# come from (dockerfile_test.go checks this).
#
# No "# syntax=" line: it would make BuildKit pull a frontend image.

ARG GO_IMAGE=golang:1.26

FROM ${GO_IMAGE} AS compile
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/msgsys . \
 && mkdir /out/data

FROM scratch AS from-source
ARG VERSION=dev
LABEL org.opencontainers.image.title=msgsys \
      org.opencontainers.image.version=${VERSION}
COPY docker/etc/passwd docker/etc/group /etc/
ENV PATH=/usr/local/bin \
    MSGSYS_DATA=/data
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/msgsys"]
CMD ["--help"]
COPY --from=compile /out/msgsys /usr/local/bin/msgsys
# /out/data is an empty directory. COPY creates /data with the owner given
# by --chown, so a new named volume mounted there is writable by user
# 10001.
COPY --from=compile --chown=10001:10001 /out/data /data
WORKDIR /data
