#!/bin/sh
# Builds the static opcancel binary exactly as the Dockerfile does; CI runs it
# too, so the image's build flags are the tested ones.
#   deploy/build.sh OUTPUT [VERSION] [COMMIT]
# GOOS and GOARCH choose the platform, as for go build (the Dockerfile
# passes the image's target platform; GOOS=linux GOARCH=arm64 cross-compiles
# from any machine); unset, this machine's.
set -eu
out="${1:?usage: deploy/build.sh OUTPUT [VERSION] [COMMIT]}"
version="${2:-${VERSION:-dev}}"
commit="${3:-${COMMIT:-unknown}}"
GOOS="${GOOS:-$(go env GOOS)}" GOARCH="${GOARCH:-$(go env GOARCH)}" CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X main.version=${version} -X main.commit=${commit}" \
  -o "$out" ./cmd/opcancel
