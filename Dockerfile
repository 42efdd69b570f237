# syntax=docker/dockerfile:1
#
# otelcol-mcp container image.
#
#   docker build -t otelcol-mcp .
#   docker run --rm -p 4317:4317 -p 4318:4318 -p 4320:4320 -p 13133:13133 -p 8888:8888 \
#     -e MCP_PG_DSN='postgres://user:pass@db:5432/mcp_bridge?sslmode=disable' otelcol-mcp
#
# The build stage runs the same `make build` as a developer machine: it installs
# the ocb version pinned in builder-config.yaml ("# ocb: vX.Y.Z") and builds
# ./build/otelcol-mcp (CGO_ENABLED=0, the ocb default, so the binary is static).

FROM golang:1.26-bookworm AS build
WORKDIR /src

# Install the pinned ocb first so that this layer survives source changes.
COPY builder-config.yaml ./
RUN --mount=type=cache,target=/root/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    OCB_VERSION="$(sed -n 's/^# *ocb: *\(v[0-9][0-9.]*\).*/\1/p' builder-config.yaml | head -n 1)" && \
    test -n "$OCB_VERSION" && \
    GOBIN=/src/bin go install "go.opentelemetry.io/collector/cmd/builder@${OCB_VERSION}"

# Fetch the root module's dependencies in their own layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod \
    go mod download

COPY . .
RUN --mount=type=cache,target=/root/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    make build && \
    ./build/otelcol-mcp validate --config otelcol-config.yaml && \
    ./build/otelcol-mcp validate --config deploy/agent-config.yaml && \
    mkdir -p /out/var/lib/otelcol-mcp/queue

# distroless nonroot runs as uid/gid 65532 and has no shell.
FROM gcr.io/distroless/base-debian12:nonroot

COPY --from=build /src/build/otelcol-mcp /otelcol-mcp
COPY --from=build /src/otelcol-config.yaml /etc/otelcol-mcp/config.yaml
# The agent tier: --config /etc/otelcol-mcp/agent-config.yaml, with
# MCP_AGENT_STORAGE_DIR=/var/lib/otelcol-mcp/queue and MCP_GATEWAY_ENDPOINT.
COPY --from=build /src/deploy/agent-config.yaml /etc/otelcol-mcp/agent-config.yaml
# Beside ToolHive vMCP: add --config /etc/otelcol-mcp/toolhive-vmcp-logs.yaml
# and mount vMCP's log at MCP_VMCP_LOG (docs/compatibility.md).
COPY --from=build /src/deploy/toolhive-vmcp-logs.yaml /etc/otelcol-mcp/toolhive-vmcp-logs.yaml
# Router metrics for Prometheus: add --config /etc/otelcol-mcp/router-alerts.yaml
# and set MCP_ROUTER_METRICS_ENDPOINT=0.0.0.0:9464 (docs/alerts.md).
COPY --from=build /src/deploy/router-alerts.yaml /etc/otelcol-mcp/router-alerts.yaml
# Copying the parent makes "queue" a new directory owned by the nonroot user.
COPY --from=build --chown=65532:65532 /out/var/lib/otelcol-mcp /var/lib/otelcol-mcp

ENV MCP_STORAGE_DIR=/var/lib/otelcol-mcp/queue \
    MCP_AGENT_STORAGE_DIR=/var/lib/otelcol-mcp/queue \
    MCP_OTLP_GRPC_ENDPOINT=0.0.0.0:4317 \
    MCP_OTLP_HTTP_ENDPOINT=0.0.0.0:4318 \
    MCP_EVENTS_ENDPOINT=0.0.0.0:4320 \
    MCP_HEALTH_ENDPOINT=0.0.0.0:13133 \
    MCP_METRICS_HOST=0.0.0.0 \
    MCP_METRICS_PORT=8888

# Go runtime: collect garbage less often (GOGC) but keep the Go heap under
# GOMEMLIMIT, below memory_limiter's soft limit (limit_mib - spike_limit_mib =
# 384 MiB by default), so the limiter never refuses data for garbage that was
# merely not collected yet. Cuts the collector's CPU per row by a third
# (docs/benchmarks.md); scripts/runtime-env.sh reads this line, keep it on one
# line. Lower MCP_MEMORY_LIMIT_MIB => lower GOMEMLIMIT too.
ENV GOGC=400 GOMEMLIMIT=300MiB

# The persistent sending queue: mount a volume here so that data waiting for
# PostgreSQL survives a container restart.
VOLUME ["/var/lib/otelcol-mcp/queue"]

USER 65532:65532
EXPOSE 4317 4318 4320 13133 8888 9464

ENTRYPOINT ["/otelcol-mcp"]
CMD ["--config", "/etc/otelcol-mcp/config.yaml"]
