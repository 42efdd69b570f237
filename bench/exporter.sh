#!/usr/bin/env bash
# bench/exporter.sh: the mcppg exporter from pdata to committed routing_log
# rows, beside a raw pgx CopyFrom of the same rows, interleaved in one run
# (BenchmarkRoutingLogCommit), and the mapping alone (BenchmarkMapTraces).
#
#   bash bench/exporter.sh                 # 5 rounds of 200 batches of 1,000 rows
#   COUNT=3 BATCHES=100 bash bench/exporter.sh
#
# Needs PostgreSQL (scripts/pg-up.sh); the benchmark creates and drops its own
# database. Prints the benchmark lines, then the medians over the rounds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
COUNT=${COUNT:-5}
BATCHES=${BATCHES:-200}

bash scripts/pg-up.sh >/dev/null 2>&1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench 'BenchmarkRoutingLogCommit|BenchmarkMapTraces' -benchtime "${BATCHES}x" -count "$COUNT" \
	./exporter/mcppgexporter/ | grep -E '^(Benchmark|cpu|goos|goarch)' | tee "$out"

awk -v count="$COUNT" '
function metric(name,   i) { for (i = 3; i < NF; i++) if ($(i+1) == name) return $i; return "" }
function median(a, k,   i, j, t, b) { for (i = 1; i <= k; i++) b[i] = a[i] + 0
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (b[j] < b[i]) { t = b[i]; b[i] = b[j]; b[j] = t }
	return (k % 2) ? b[(k + 1) / 2] : (b[k / 2] + b[k / 2 + 1]) / 2 }
/RoutingLogCommit/ { n++
	er[n] = metric("exporter-rows/s"); rr[n] = metric("raw-rows/s"); ra[n] = metric("ratio")
	e50[n] = metric("exporter-p50-ms"); e99[n] = metric("exporter-p99-ms")
	r50[n] = metric("raw-p50-ms"); r99[n] = metric("raw-p99-ms") }
/MapTraces/ { k++; mp[k] = metric("spans/s") }
END {
	printf "\nmedians over %d rounds (batches of 1,000 routing_log rows, one transaction each):\n", n
	printf "  exporter (pdata -> committed rows): %6d rows/s   commit p50 %6.2f ms  p99 %6.2f ms per 1,000 rows\n", median(er, n), median(e50, n), median(e99, n)
	printf "  raw pgx CopyFrom, same rows:        %6d rows/s   commit p50 %6.2f ms  p99 %6.2f ms per 1,000 rows\n", median(rr, n), median(r50, n), median(r99, n)
	printf "  ratio exporter / raw CopyFrom: %.2f (target >= 0.6)\n", median(ra, n)
	printf "  mapping alone (pdata -> row values): %d spans/s\n", median(mp, k)
}' "$out"
