# syntax=docker/dockerfile:1
# opcancel: a static binary on distroless, non-root.
#   docker build --build-arg VERSION=$(git describe --tags --always) --build-arg COMMIT=$(git rev-parse HEAD) -t opcancel .

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
# deploy/build.sh: CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version -X main.commit"
RUN deploy/build.sh /out/opcancel "$VERSION" "$COMMIT"

# distroless static: CA certificates, tzdata, /etc/passwd with nonroot (65532), no shell.
FROM gcr.io/distroless/static-debian12:nonroot
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
