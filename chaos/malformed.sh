#!/usr/bin/env bash
# chaos/malformed.sh ADDR PER_SECOND COUNT_FILE: until SIGTERM, post routed-
# request spans over OTLP/HTTP JSON to ADDR at PER_SECOND on average (each post
# catches up with the schedule), each carrying a NUL in an attribute: jsonb
# refuses it, so the exporter must isolate the row into rejected_event and
# commit the rest of its batch. COUNT_FILE holds the number of spans the
# collector acknowledged.
set -uo pipefail
addr=$1 per_s=$2 count_file=$3
sent=0
echo 0 >"$count_file"
trap 'echo "$sent" >"$count_file"; exit 0' TERM INT
start=$(date +%s%N)
while :; do
	now=$(date +%s%N)
	n=$(((now - start) * per_s / 1000000000 - sent))
	if ((n > 0)); then
		ids=$(od -An -v -tx1 -N$((24 * n)) /dev/urandom | tr -d ' \n')
		spans=
		for ((i = 0; i < n; i++)); do
			[[ -n $spans ]] && spans+=,
			spans+='{"traceId":"'${ids:i*48:32}'","spanId":"'${ids:i*48+32:16}'","name":"tools/call get_weather","kind":2,'
			spans+='"startTimeUnixNano":"'$now'","endTimeUnixNano":"'$((now + 1000000))'","attributes":['
			spans+='{"key":"mcp.method.name","value":{"stringValue":"tools/call"}},'
			spans+='{"key":"gen_ai.tool.name","value":{"stringValue":"get_weather"}},'
			spans+='{"key":"chaos.note","value":{"stringValue":"chaos-malformed \u0000 NUL"}}]}'
		done
		body='{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"chaos-malformed"}}]},"scopeSpans":[{"spans":['$spans']}]}]}'
		if curl -fsS -o /dev/null --max-time 5 -H 'Content-Type: application/json' --data-binary "$body" "http://$addr/v1/traces"; then
			sent=$((sent + n))
			echo "$sent" >"$count_file"
		fi
	fi
	sleep 0.5 &
	wait $!
done
