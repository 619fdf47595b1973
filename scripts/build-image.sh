#!/usr/bin/env bash
# Builds the msgsys image (tag $MSGSYS_IMAGE, default msgsys:local) for
# compose.yaml.
#
# With Go installed, it compiles a static binary into build/image/, builds
# docker/from-binary.Dockerfile, which pulls no base image, so it works
# where no registry is reachable, and deletes build/image/ again. Without
# Go, or with --from-source, it builds the Dockerfile at the root, which
# compiles inside the golang image and so needs a registry. Either way
# `docker compose up` then finds the image and does not build it again.
#
# Usage: scripts/build-image.sh [--from-source]
# Environment: MSGSYS_IMAGE, MSGSYS_VERSION (default: git describe), and
# GOFLAGS, GOARCH as for go build.
set -euo pipefail

cd "$(dirname "$0")/.."

target=from-binary
case "${1:-}" in
  --from-source) target=from-source ;;
  "") ;;
  *)
    echo "usage: scripts/build-image.sh [--from-source]" >&2
    exit 2
    ;;
esac
if [[ $target == from-binary ]] && ! command -v go >/dev/null 2>&1; then
  echo "build-image: go not found, building from source (pulls the golang image)"
  target=from-source
fi

# Compose v2 is the docker plugin; some machines have only the separate
# docker-compose program.
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
else
  echo "build-image: neither 'docker compose' nor 'docker-compose' was found" >&2
  exit 1
fi

if [[ -z ${MSGSYS_VERSION:-} ]]; then
  MSGSYS_VERSION=$(git describe --always --dirty 2>/dev/null || echo dev)
fi
# compose.yaml builds the file that MSGSYS_DOCKERFILE names.
MSGSYS_DOCKERFILE=Dockerfile
if [[ $target == from-binary ]]; then
  MSGSYS_DOCKERFILE=docker/from-binary.Dockerfile
fi
export MSGSYS_VERSION MSGSYS_DOCKERFILE

if [[ $target == from-binary ]]; then
  echo "build-image: compiling build/image/msgsys ($MSGSYS_VERSION)"
  # The binary is needed only while the image builds, so it never lingers
  # in the work tree.
  trap 'rm -rf build/image; rmdir build 2>/dev/null || true' EXIT
  rm -rf build/image
  mkdir -p build/image/data
  CGO_ENABLED=0 GOOS=linux go build -trimpath \
    -ldflags "-s -w -X main.version=$MSGSYS_VERSION" -o build/image/msgsys .
fi

# Every service uses the same image, so building one service builds it.
echo "build-image: building ${MSGSYS_IMAGE:-msgsys:local} from $MSGSYS_DOCKERFILE"
"${compose[@]}" -f compose.yaml build reference
docker image inspect --format 'build-image: {{index .RepoTags 0}} is {{.Size}} bytes' "${MSGSYS_IMAGE:-msgsys:local}"
