# syntax=docker/dockerfile:1
# opcancel: a static binary on distroless, non-root, for linux/amd64 and
# linux/arm64. The Go stage runs on the machine's own platform and
# cross-compiles for the target (no emulation), so one command builds both:
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=$(git describe --tags --always) --build-arg COMMIT=$(git rev-parse HEAD) \
#     -t IMAGE --push .

# Base images are pinned by digest: a rebuild of the same commit gets the
# same toolchain and the same runtime files, whatever the tags point at later.
# Both digests are the ones public Dockerfiles record for these tags (the Go
# one for 1.26.8, the go.mod toolchain; the distroless one as of 2026-08-26);
# they could not be resolved from the machine this file was written on, so
# check them once with `crane digest IMAGE:TAG` (or `docker buildx imagetools
# inspect`) and update both when upgrading (docs/deploy.md#image). Each must
# be the digest of the tag's multi-platform index, not of one platform's
# image, so that every platform of the build resolves its own.
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
# Set by BuildKit for each platform of --platform.
ARG TARGETOS TARGETARCH
# deploy/build.sh: CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version -X main.commit"
RUN GOOS="$TARGETOS" GOARCH="$TARGETARCH" deploy/build.sh /out/opcancel "$VERSION" "$COMMIT"

# distroless static: CA certificates, tzdata, /etc/passwd with nonroot (65532), no shell.
FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="opcancel" \
      org.opencontainers.image.description="Cancels Google API long-running operations named in Pub/Sub messages" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=build /out/opcancel /opcancel
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["/opcancel"]
CMD ["worker"]
