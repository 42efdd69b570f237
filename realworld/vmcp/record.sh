#!/usr/bin/env bash
# Records what ToolHive vMCP emits while it routes a real MCP client to two
# server-everything backends and one backend that never answers.
#
#   OTLP_ENDPOINT=127.0.0.1:14318 realworld/vmcp/record.sh OUTDIR
#
# OUTDIR gets: vmcp.log (vmcp's stderr: JSON log lines), vmcp.yaml (the config
# used) and operations.json (ground truth: what the client sent, what the log
# says happened to the silent backend, and - when OUTDIR also holds the
# otlpcapture traces.jsonl - the upstream calls vmcp's CLIENT spans show).
#
# Timeline (all waits poll; no fixed sleeps):
#   start backends + vmcp -> wait /health
#   -> wait "backend health degraded" (silent is unhealthy; a session opened
#      before that waits 30 s for the silent backend's initialize) -> run client.mjs
#   -> wait "circuit breaker OPENED" -> wait "returned to OPEN from half-open"
#   -> SIGUSR1 to silent.mjs (it starts forwarding to a real server)
#   -> wait "circuit breaker CLOSED" and "backend status changed" (-> healthy)
#   -> wait one metric export -> SIGTERM vmcp (flushes traces and metrics).
set -euo pipefail
OUT="${1:?usage: record.sh OUTDIR}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OTLP_ENDPOINT="${OTLP_ENDPOINT:-127.0.0.1:14318}"
VERSION="${TOOLHIVE_VERSION:-v0.47.0}"
EVERYTHING="$ROOT/realworld/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
RUN="$ROOT/.run/realworld/vmcp"
# Metric export period of the OTel Go SDK periodic reader (ms); vmcp builds its
# reader without an interval, so the standard variable applies (default 60000).
export OTEL_METRIC_EXPORT_INTERVAL="${OTEL_METRIC_EXPORT_INTERVAL:-5000}"
# Batch span processor delay (ms, default 5000). vmcp v0.47.0 shuts its
# telemetry down with an already cancelled context, so nothing is flushed at
# exit: everything must have been exported before SIGTERM.
export OTEL_BSP_SCHEDULE_DELAY="${OTEL_BSP_SCHEDULE_DELAY:-1000}"

mkdir -p "$OUT" "$RUN"
OUT="$(cd "$OUT" && pwd)"
"$HERE/build.sh"
VMCP="$ROOT/.run/realworld/bin/vmcp"
[[ -f "$EVERYTHING" ]] || { echo "missing $EVERYTHING (npm ci in realworld/)" >&2; exit 1; }

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

read -r P_EV P_EV2 P_SILENT P_VMCP < <(node "$HERE/util.mjs" ports 4)
echo "ports: everything=$P_EV everything2=$P_EV2 silent=$P_SILENT vmcp=$P_VMCP otlp=$OTLP_ENDPOINT"

PORT=$P_EV node "$EVERYTHING" streamableHttp >"$RUN/everything.log" 2>&1 & PIDS+=($!)
PORT=$P_EV2 node "$EVERYTHING" streamableHttp >"$RUN/everything2.log" 2>&1 & PIDS+=($!)
PORT=$P_SILENT TARGET_PORT=$P_EV2 node "$HERE/silent.mjs" >"$RUN/silent.log" 2>&1 & SILENT_PID=$!; PIDS+=($SILENT_PID)
for p in $P_EV $P_EV2 $P_SILENT; do node "$HERE/util.mjs" wait-tcp "$p" 30; done

sed -e "s/@EVERYTHING_PORT@/$P_EV/" -e "s/@EVERYTHING2_PORT@/$P_EV2/" \
    -e "s/@SILENT_PORT@/$P_SILENT/" -e "s/@OTLP_ENDPOINT@/$OTLP_ENDPOINT/" \
    "$HERE/vmcp.yaml.tmpl" >"$OUT/vmcp.yaml"
LOG="$OUT/vmcp.log"
: >"$LOG"
start=$(date +%s)
"$VMCP" serve --config "$OUT/vmcp.yaml" --host 127.0.0.1 --port "$P_VMCP" >"$RUN/vmcp.stdout" 2>"$LOG" & VMCP_PID=$!; PIDS+=($VMCP_PID)
node "$HERE/util.mjs" wait-http "http://127.0.0.1:$P_VMCP/health" 60
echo "vmcp ready after $(( $(date +%s) - start ))s"
node "$HERE/util.mjs" wait-log "$LOG" '"msg":"backend health degraded".*"backend":"silent"' 90
echo "silent backend unhealthy after $(( $(date +%s) - start ))s"

TOOLHIVE_VERSION=$VERSION node "$HERE/client.mjs" "http://127.0.0.1:$P_VMCP/mcp" "$OUT" everything_

node "$HERE/util.mjs" wait-log "$LOG" 'circuit breaker OPENED' 60
node "$HERE/util.mjs" wait-log "$LOG" 'returned to OPEN from half-open' 60
kill -USR1 "$SILENT_PID"   # the silent backend starts answering
node "$HERE/util.mjs" wait-log "$LOG" 'circuit breaker CLOSED' 60
node "$HERE/util.mjs" wait-log "$LOG" '"msg":"backend status changed".*"backend":"silent".*"status":"healthy"' 30
echo "silent backend healthy again after $(( $(date +%s) - start ))s"
if [[ -f "$OUT/metrics.jsonl" ]]; then
  # Recording into the otlpcapture directory: wait for a periodic export.
  n0=$(wc -l <"$OUT/metrics.jsonl")
  node -e '
    const fs=require("fs"),[f,n0]=process.argv.slice(1);const end=Date.now()+30000;
    (function poll(){const n=fs.readFileSync(f,"utf8").split("\n").filter(Boolean).length;
      if(n>Number(n0))process.exit(0);if(Date.now()>end){console.error("no metric export");process.exit(1)}
      setTimeout(poll,200)})()' "$OUT/metrics.jsonl" "$n0"
else
  node -e 'setTimeout(()=>{},Number(process.argv[1]))' "$OTEL_METRIC_EXPORT_INTERVAL"
fi

kill -TERM "$VMCP_PID"
wait "$VMCP_PID" || true
echo "vmcp stopped after $(( $(date +%s) - start ))s"
cleanup
trap - EXIT

node "$HERE/derive.mjs" "$OUT"
