#!/usr/bin/env bash
# Runs the JS MCP emitter scenarios; their spans go to $OTEL_EXPORTER_OTLP_ENDPOINT
# (otlpcapture to record fixtures, or the collector), and each scenario writes its
# ground truth to OUTDIR_BASE/<scenario>/operations.json.
# Usage: OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:14318 realworld/js/record.sh OUTDIR_BASE [scenario...]
# Scenarios: traceloop-js-stdio traceloop-js-http sentry-js-stdio sentry-js-http (default: all).
set -euo pipefail

if [[ $# -lt 1 ]]; then
  sed -n '2,6p' "$0" >&2
  exit 2
fi
: "${OTEL_EXPORTER_OTLP_ENDPOINT:?set OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://127.0.0.1:14318}"
export OTEL_EXPORTER_OTLP_ENDPOINT

js_dir=$(cd "$(dirname "$0")" && pwd)
[[ -d "$js_dir/../node_modules/@modelcontextprotocol/sdk" ]] || {
  echo "record.sh: run 'npm ci' in $(dirname "$js_dir") first" >&2
  exit 1
}
out_base=$1
shift
scenarios=("$@")
[[ ${#scenarios[@]} -gt 0 ]] || scenarios=(traceloop-js-stdio traceloop-js-http sentry-js-stdio sentry-js-http)

for scenario in "${scenarios[@]}"; do
  case "$scenario" in
    traceloop-js-stdio) script=traceloop-client.js mode=stdio ;;
    traceloop-js-http) script=traceloop-client.js mode=http ;;
    sentry-js-stdio) script=sentry-client.js mode=stdio ;;
    sentry-js-http) script=sentry-client.js mode=http ;;
    *) echo "record.sh: unknown scenario $scenario" >&2; exit 2 ;;
  esac
  echo "record.sh: $scenario" >&2
  mkdir -p "$out_base/$scenario"
  timeout 120 node "$js_dir/$script" "$mode" "$out_base/$scenario"
done
