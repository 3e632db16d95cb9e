# memgraph-gateway image: a static binary on distroless, run as a non-root user.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#                --build-arg COMMIT=$(git rev-parse HEAD) -t memgraph-gateway .
#
# Multi-platform builds (docker buildx --platform linux/amd64,linux/arm64)
# cross-compile on the build machine instead of emulating it.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG TARGETOS=linux
ARG TARGETARCH=amd64
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/memgraph-gateway ./cmd/memgraph-gateway

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/memgraph-gateway /usr/local/bin/memgraph-gateway
# Numeric, so that Kubernetes runAsNonRoot can verify it (distroless "nonroot").
USER 65532:65532
# 7687: Bolt (read-write). 9090: HTTP API (/healthz /readyz /metrics /status).
EXPOSE 7687 9090
ENTRYPOINT ["/usr/local/bin/memgraph-gateway"]
CMD ["serve"]
