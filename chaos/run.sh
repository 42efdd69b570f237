#!/usr/bin/env bash
# chaos/run.sh: fault scenarios against the built collector, each reconciling
# every id the simulator sent (>= 1,000,000 events by default) by anti-join.
#
#   chaos/run.sh [scenario ...]     default: all, in this order
#
#   db-outage          PostgreSQL stopped (pg_ctl -m fast stop) for 60 s under load
#   collector-kill     the collector SIGKILLed under load, restarted on its queue
#   queue-full         PostgreSQL down until the sending queue is full (and 30 s
#                      more): what the sender sees, what the metrics show
#   partition-dropped  today's routing_log partition dropped under load (rows
#                      go to DEFAULT), then the DEFAULT too (on-demand path)
#   malformed          one span with a NUL in an attribute per 1,000 events
#   two-tier           simulator -> agent (deploy/agent-config.yaml) -> two
#                      gateways on one port at 127.0.0.1 and 127.0.0.2, found
#                      through one DNS name (mcprouter-sim dns) -> PostgreSQL:
#                      gateway 0 SIGKILLed and restarted at t=20 s, both
#                      gateways stopped at t=40 s for CHAOS_OUTAGE s, the
#                      agent SIGKILLed and restarted during that outage
#   disk-full          the queue directory on a small filesystem (a tmpfs of
#                      CHAOS_DISK_MIB, root only), PostgreSQL down until the
#                      queue has refused data for lack of disk and 30 s more,
#                      the sender retrying until acknowledged; repeated
#                      CHAOS_DISK_RUNS times, each drained without a restart
#                      (otelcol_exporter_queue_size back to 0)
#   gateways           scale-out: two collectors (gateways) on one schema, started
#                      together, each fed by its own simulator at the same time
#                      (CHAOS_REQUESTS and CHAOS_RATE split between them); both
#                      manifests reconciled, and partition maintenance shown to
#                      have run once (every partition counted by exactly one
#                      gateway's otelcol_partitionmgr_partitions_created, no run
#                      failed)
#
# Everything is private: a PostgreSQL cluster of its own (scripts/pg-up.sh on
# CHAOS_PG_PORT, data in CHAOS_PG_DATA, stopped at the end), the collector on
# 5xxxx ports (the second gateway on the same ports + 100) with a fresh queue
# directory per scenario, one schema per scenario. The collector keeps every
# health check and LB decision (MCP_SAMPLE_*_PERCENT=100), so every kind is
# reconciled exactly.
#
# Environment (defaults): CHAOS_REQUESTS routed requests per scenario (400000,
# ~1.04 M events), CHAOS_RATE requests/s (3000), CHAOS_OUTAGE seconds (60),
# CHAOS_PG_PORT (55432), CHAOS_PG_DATA (.run/chaos-pg), CHAOS_QUEUE_SIZE for
# queue-full (200; the default config has 1000), CHAOS_RECONCILE_WAIT (15m),
# CHAOS_KEEP_PG=1 leaves the cluster running, CHAOS_COLLECTOR another binary
# than build/otelcol-mcp, CHAOS_SEED the first gateways simulator's seed (the
# second gets +1; default: the clock), CHAOS_DISK_MIB (64) and
# CHAOS_DISK_RESERVE_MIB (16, diskguard's min_free_mib) and CHAOS_DISK_RUNS (5)
# for disk-full.
#
# Output: .run/chaos/<scenario>/ (collector log, simulator log, manifest,
# reconciliation, metrics) and .run/chaos/results.md (one table row per
# scenario). Exit status: 0 when every scenario lost and duplicated nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=chaos/lib.sh
source chaos/lib.sh

REQUESTS=${CHAOS_REQUESTS:-400000}
RATE=${CHAOS_RATE:-3000}
OUTAGE=${CHAOS_OUTAGE:-60}
PG_PORT=${CHAOS_PG_PORT:-55432}
PG_DATA=${CHAOS_PG_DATA:-.run/chaos-pg}
PG_DB=mcp_chaos
QUEUE_SIZE=${CHAOS_QUEUE_SIZE:-200}
DISK_MIB=${CHAOS_DISK_MIB:-64}
DISK_RESERVE_MIB=${CHAOS_DISK_RESERVE_MIB:-16}
DISK_RUNS=${CHAOS_DISK_RUNS:-5}
RECONCILE_WAIT=${CHAOS_RECONCILE_WAIT:-15m}
# Gateway 0's ports; gateway G listens on each + 100*G (chaos/lib.sh gw_port).
GRPC_PORT=54317 HTTP_PORT=54318 EVENTS_PORT=54320 HEALTH_PORT=53133 METRICS_PORT=58888
DSN="postgres://postgres@127.0.0.1:$PG_PORT/$PG_DB?sslmode=disable"
ROOT=.run/chaos
RESULTS=$ROOT/results.md
COLLECTOR=$ROOT/otelcol-mcp
SOURCE_BINARY=${CHAOS_COLLECTOR:-build/otelcol-mcp}
CONFIG=$ROOT/otelcol-config.yaml
AGENT_CONFIG=$ROOT/agent-config.yaml
SIM=$ROOT/mcprouter-sim

all=(db-outage collector-kill queue-full partition-dropped malformed gateways two-tier disk-full)
scenarios=("$@")
((${#scenarios[@]})) || scenarios=("${all[@]}")
for s in "${scenarios[@]}"; do
	[[ " ${all[*]} " == *" $s "* ]] || die "unknown scenario $s (known: ${all[*]})"
done
for tool in psql pg_isready jq curl go gzip; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ -x $SOURCE_BINARY ]] || die "$SOURCE_BINARY is missing: run make build"
ports=("$GRPC_PORT" "$HTTP_PORT" "$EVENTS_PORT" "$HEALTH_PORT" "$METRICS_PORT")
if [[ " ${scenarios[*]} " == *" gateways "* || " ${scenarios[*]} " == *" two-tier "* ]]; then
	for port in "${ports[@]:0:5}"; do ports+=("$(gw_port "$port" 1)"); done
fi
if [[ " ${scenarios[*]} " == *" two-tier "* ]]; then
	for port in "${ports[@]:0:5}"; do ports+=("$(gw_port "$port" 2)"); done
fi
for port in "${ports[@]}"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "something already listens on 127.0.0.1:$port"; fi
done

cleanup() {
	[[ -n ${sim_pid:-} ]] && kill -TERM "$sim_pid" 2>/dev/null
	local pid
	for pid in "${sim_pids[@]}"; do [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null; done
	[[ -n ${malformed_pid:-} ]] && kill -TERM "$malformed_pid" 2>/dev/null
	[[ -n ${dns_pid:-} ]] && kill -TERM "$dns_pid" 2>/dev/null
	collectors_stop
	local m
	for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
	if [[ -z ${CHAOS_KEEP_PG:-} && -s $PG_DATA/PG_VERSION ]]; then
		MCP_PG_DATA=$PG_DATA bash scripts/pg-down.sh >/dev/null 2>&1 || true
	fi
}
mounted=()
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$ROOT"
# A copy of the binary and of the configuration: a concurrent `make build` or
# edit must not swap them mid-run.
cp "$SOURCE_BINARY" "$COLLECTOR"
cp otelcol-config.yaml "$CONFIG"
cp deploy/agent-config.yaml "$AGENT_CONFIG"
go build -o "$SIM" ./cmd/mcprouter-sim || die "go build ./cmd/mcprouter-sim failed"
pg_up
{
	echo "Run $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores: chaos/run.sh ${scenarios[*]}"
	echo "(CHAOS_REQUESTS=$REQUESTS CHAOS_RATE=$RATE CHAOS_OUTAGE=$OUTAGE; collector $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
	echo
	echo '| scenario | sent | stored | lost | duplicated | rejected | sender gave up | duration | achieved rate | verdict | notes |'
	echo '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |'
} >"$RESULTS"
failures=0

# begin NAME: fresh directory, queue and schema for a scenario.
begin() {
	scenario=$1
	dir=$ROOT/$scenario
	rm -rf "$dir"
	mkdir -p "$dir"
	queue_dir=$dir/queue
	collector_log=$dir/collector.log
	manifest=$dir/manifest.gz
	sim_out=$dir/sim.out
	sim_log=$dir/sim.log
	manifests=()
	scenario_problem=
	SCHEMA=chaos_${scenario//-/_}
	psql_db -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" 2>/dev/null || true
	t_begin=$SECONDS
	say "begin: $REQUESTS requests at $RATE/s, schema $SCHEMA, queue $queue_dir"
}
# finish: stop the collector, check the simulator's exit.
finish_sim() {
	sim_wait
	say "simulator exited $sim_rc; delivery $(delivery)"
}

# ---------------------------------------------------------------------------------
scenario_db_outage() {
	begin db-outage
	collector_start
	sim_start
	at 20
	say "pg_ctl -m fast stop for $OUTAGE s"
	pg_stop
	local down=$SECONDS
	sleep "$OUTAGE"
	metrics_snapshot >"$dir/metrics-during-outage.txt"
	say "restarting PostgreSQL after $((SECONDS - down)) s; queue size $(metric otelcol_exporter_queue_size)"
	pg_up
	finish_sim
	reconcile
	metrics_snapshot >"$dir/metrics-end.txt"
	collector_stop
	result db-outage $((SECONDS - t_begin)) "$(psql_db -c "SELECT count(*) FROM $SCHEMA.rejected_event")" \
		"PostgreSQL stopped ${OUTAGE} s at t=20 s; queue at the end of the outage (traces/logs): $(sed -n 's/^otelcol_exporter_queue_size\[traces\]=//p' "$dir/metrics-during-outage.txt")/$(sed -n 's/^otelcol_exporter_queue_size\[logs\]=//p' "$dir/metrics-during-outage.txt") requests"
}

scenario_collector_kill() {
	begin collector-kill
	collector_start
	sim_start
	at 30
	say "SIGKILL collector $collector_pid (queue size $(metric otelcol_exporter_queue_size))"
	collector_kill 0
	local killed=$SECONDS
	collector_start
	say "collector back after $((SECONDS - killed)) s"
	at 60
	say "second SIGKILL of collector $collector_pid"
	collector_kill 0
	collector_start
	finish_sim
	reconcile
	metrics_snapshot >"$dir/metrics-end.txt"
	collector_stop
	result collector-kill $((SECONDS - t_begin)) "$(psql_db -c "SELECT count(*) FROM $SCHEMA.rejected_event")" \
		"SIGKILL at t=30 s and t=60 s, restarted at once on the same queue dir"
}

scenario_queue_full() {
	begin queue-full
	collector_start --set "exporters::mcppg::sending_queue::queue_size=$QUEUE_SIZE"
	# The sender retries as long as the queue stays full (its default gives up after 1 min).
	sim_start -flush-timeout 10m
	at 15
	say "pg_ctl -m fast stop until the queue ($QUEUE_SIZE requests) is full"
	pg_stop
	local down=$SECONDS full=
	while ((SECONDS - down < 900)); do
		if (($(metric_max otelcol_exporter_queue_size) >= QUEUE_SIZE)); then
			full=$SECONDS
			break
		fi
		sleep 1
	done
	[[ -n $full ]] || die "the queue did not fill within 900 s"
	say "queue full after $((full - down)) s; keeping PostgreSQL down 30 s more"
	metrics_snapshot >"$dir/metrics-full.txt"
	local sim_before
	sim_before=$(tail -n 1 "$sim_log")
	sleep 30
	metrics_snapshot >"$dir/metrics-full-30s.txt"
	echo "simulator progress when the queue filled: $sim_before" >"$dir/sender.txt"
	echo "simulator progress 30 s later:            $(tail -n 1 "$sim_log")" >>"$dir/sender.txt"
	cat "$dir/sender.txt" >&2
	pg_up
	finish_sim
	reconcile
	metrics_snapshot >"$dir/metrics-end.txt"
	collector_stop
	local refused
	refused=$(awk -F= '/^otelcol_receiver_refused_(spans|log_records)=/ { s += $2 } END { print s + 0 }' "$dir/metrics-full-30s.txt")
	result queue-full $((SECONDS - t_begin)) "$(psql_db -c "SELECT count(*) FROM $SCHEMA.rejected_event")" \
		"queue_size=$QUEUE_SIZE full $((full - down)) s after the stop; refused by the receiver while full: $refused items (the SDK retried them)"
}

scenario_partition_dropped() {
	begin partition-dropped
	collector_start
	sim_start
	local today part cols
	today=$(date -u +%Y%m%d)
	part=routing_log_p$today
	# A DROP deletes stored rows (the operator destroys them, not the
	# collector): keep them in side tables and put them back after the run.
	save_and_drop() { # SAVE_TABLE RELATION...
		local save=$1 sql="BEGIN; LOCK TABLE $SCHEMA.routing_log IN ACCESS EXCLUSIVE MODE;" r
		shift
		sql+=" CREATE TABLE $SCHEMA.$save AS SELECT * FROM $SCHEMA.routing_log WHERE false;"
		for r in "$@"; do
			sql+=" INSERT INTO $SCHEMA.$save SELECT * FROM $SCHEMA.$r; DROP TABLE $SCHEMA.$r;"
		done
		psql_db -c "$sql COMMIT;" || die "drop $* failed"
	}
	at 30
	say "DROP TABLE $SCHEMA.$part (today's rows go to DEFAULT from now on)"
	save_and_drop chaos_saved_1 "$part"
	at 45
	say "restarting the collector (SIGTERM): its start-up create run must make $part again and move the DEFAULT rows into it"
	collector_stop
	collector_start
	local deadline=$((SECONDS + 60))
	until [[ $(psql_db -c "SELECT to_regclass('$SCHEMA.$part') IS NOT NULL") == t ]]; do
		((SECONDS < deadline)) || { say "WARNING: $part not re-created within 60 s"; break; }
		sleep 1
	done
	local moved
	moved=$(metric otelcol_partitionmgr_rows_moved)
	say "$part exists again: $(psql_db -c "SELECT to_regclass('$SCHEMA.$part') IS NOT NULL"); rows moved out of DEFAULT: $moved"
	at 75
	say "DROP TABLE $part and routing_log_default (the exporter must ask for the partition on demand)"
	save_and_drop chaos_saved_2 "$part" routing_log_default
	finish_sim
	# Wait for the collector to have written everything before putting the rows back.
	local prev=-1 now settle_deadline=$((SECONDS + 600))
	while ((SECONDS < settle_deadline)); do
		now=$(psql_db -c "SELECT count(*) FROM $SCHEMA.routing_log")
		[[ $now == "$prev" ]] && break
		prev=$now
		sleep 10
	done
	local saved1 saved2 back
	saved1=$(psql_db -c "SELECT count(*) FROM $SCHEMA.chaos_saved_1")
	saved2=$(psql_db -c "SELECT count(*) FROM $SCHEMA.chaos_saved_2")
	cols=$(psql_db -c "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
		WHERE attrelid = '$SCHEMA.routing_log'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''")
	psql_db -c "INSERT INTO $SCHEMA.routing_log ($cols) SELECT $cols FROM $SCHEMA.chaos_saved_1;
		INSERT INTO $SCHEMA.routing_log ($cols) SELECT $cols FROM $SCHEMA.chaos_saved_2;" || die "putting the dropped rows back failed"
	back=$(psql_db -c "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = '$SCHEMA.routing_log'::regclass AND (c.relname = '$part' OR c.relname LIKE '%default')")
	reconcile
	metrics_snapshot >"$dir/metrics-end.txt"
	grep -E 'partition|23514' "$collector_log" | sed 's/{"resource[^}]*}, //' | cut -c1-400 | tail -n 30 >"$dir/partition-log.txt" || true
	collector_stop
	result partition-dropped $((SECONDS - t_begin)) "$(psql_db -c "SELECT count(*) FROM $SCHEMA.rejected_event")" \
		"dropped $part at t=30 s ($saved1 rows saved); collector restarted at t=45 s, $moved rows moved out of DEFAULT; $part and routing_log_default dropped at t=75 s ($saved2 rows saved); saved rows put back after the run; present at the end: ${back:-none}"
}

scenario_malformed() {
	begin malformed
	collector_start
	sim_start
	# ~2.6 events per routed request: one malformed span per 1,000 events.
	local per_s=$(((RATE * 26 + 9999) / 10000))
	bash chaos/malformed.sh "127.0.0.1:$HTTP_PORT" "$per_s" "$dir/malformed.count" &
	malformed_pid=$!
	finish_sim
	kill -TERM "$malformed_pid" 2>/dev/null || true
	wait "$malformed_pid" 2>/dev/null || true
	malformed_pid=
	reconcile
	local bad rejected
	bad=$(cat "$dir/malformed.count")
	rejected=$(psql_db -c "SELECT count(*) FROM $SCHEMA.rejected_event WHERE payload LIKE '%chaos-malformed%'")
	metrics_snapshot >"$dir/metrics-end.txt"
	collector_stop
	result malformed $((SECONDS - t_begin)) "$rejected" \
		"$bad malformed spans sent (NUL in an attribute, $per_s/s, not in the manifest); $rejected isolated into rejected_event"
	if ((rejected != bad)); then
		say "FAIL: $bad malformed spans sent, $rejected rejected"
		failures=$((failures + 1))
	fi
}

scenario_gateways() {
	begin gateways
	local g seed rate requests
	seed=${CHAOS_SEED:-$(date +%s)}
	rate=$(awk -v r="$RATE" 'BEGIN { print r / 2 }')
	manifests=("$dir/manifest-0.gz" "$dir/manifest-1.gz")
	# Both at once: their start-up maintenance runs (schema, create, expire)
	# race for the leader lock on the fresh schema.
	for g in 0 1; do collector_launch "$g"; done
	for g in 0 1; do collector_healthy "$g"; done
	# One router per gateway, at the same time: each its own instance id,
	# seed (session ids) and server-key prefix (mcp_server has one row per
	# key, so routers sharing keys could not be reconciled apart).
	for g in 0 1; do
		requests=$((REQUESTS / 2 + (g == 0 ? REQUESTS % 2 : 0)))
		gateway_sim_start "$g" "$requests" "$rate" -instance "chaos-gateways-sim-$g" -seed $((seed + g)) -server-prefix "gw$g-"
		say "simulator $g (${sim_pids[g]}): $requests requests at $rate/s to gateway $g (127.0.0.1:$(gw_port "$GRPC_PORT" "$g")), seed $((seed + g))"
	done
	local rc
	for g in 0 1; do
		rc=0
		wait "${sim_pids[g]}" || rc=$?
		sim_pids[g]=
		say "simulator $g exited $rc; delivery $(delivery "${manifests[g]}")"
	done

	# Each manifest on its own against the shared schema.
	local t_sent=0 t_stored=0 t_lost=0 t_dup=0 t_rc=0 per=()
	for g in 0 1; do
		reconcile "${manifests[g]}" "reconcile-$g"
		t_sent=$((t_sent + sent)) t_stored=$((t_stored + stored)) t_lost=$((t_lost + lost)) t_dup=$((t_dup + dup))
		((reconcile_rc <= t_rc)) || t_rc=$reconcile_rc
		per+=("sim $g: $sent sent, $lost lost, $dup dup")
	done
	sent=$t_sent stored=$t_stored lost=$t_lost dup=$t_dup reconcile_rc=$t_rc

	# Partition maintenance ran once: every partition of the schema counted by
	# exactly one gateway, no run failed.
	local created=() written=() runs=() logs=() leaders=() moved=0 skipped=0 failed=0 creators=0 partitions logged failed_log=0
	for g in 0 1; do
		metrics_raw "$g" >"$dir/metrics-$g.prom" || die "cannot scrape gateway $g's metrics"
		metrics_snapshot "$g" >"$dir/metrics-end-$g.txt"
		created[g]=$(prom_sum "$dir/metrics-$g.prom" otelcol_partitionmgr_partitions_created)
		written[g]=$(prom_sum "$dir/metrics-$g.prom" otelcol_exporter_mcppg_rows_written)
		((created[g] == 0)) || creators=$((creators + 1))
		# Set only by a gateway that ran a job holding the leader lock.
		if grep -q '^otelcol_partitionmgr_last_success{task="create"}' "$dir/metrics-$g.prom"; then leaders+=("$g"); fi
		moved=$((moved + $(prom_sum "$dir/metrics-$g.prom" otelcol_partitionmgr_rows_moved)))
		local task r n counts line="gateway $g" sep=
		for task in create expire; do
			counts=
			for r in ok skipped failed; do
				n=$(prom_sum "$dir/metrics-$g.prom" otelcol_partitionmgr_runs "task=\"$task\"" "result=\"$r\"")
				counts+=${counts:+/}$n
				[[ $r != skipped ]] || skipped=$((skipped + n))
				[[ $r != failed ]] || failed=$((failed + n))
			done
			line+="$sep $task $counts"
			sep=,
		done
		runs+=("$line")
		failed_log=$((failed_log + $(grep -c 'partition maintenance failed' "$(gw_log "$g")" || true)))
		logged=$(sed -n '/created partitions/ s/.*"partitions": \([0-9]*\).*/\1/p' "$(gw_log "$g")" | awk '{ s += $1 } END { print s + 0 }')
		logs+=("gateway $g: ${logged} partitions in its 'created partitions' log lines")
		say "gateway $g: otelcol_partitionmgr_partitions_created=${created[g]} (log: $logged), runs: $line, rows written ${written[g]}"
	done
	psql_db -c "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = '$SCHEMA' AND c.relkind = 'r' AND c.relname NOT LIKE '%\_default' ORDER BY 1" >"$dir/partitions.txt"
	partitions=$(wc -l <"$dir/partitions.txt")
	{
		echo "partitions in $SCHEMA (not DEFAULT): $partitions"
		echo "otelcol_partitionmgr_partitions_created: gateway 0 ${created[0]}, gateway 1 ${created[1]}"
		printf 'otelcol_partitionmgr_runs (ok/skipped/failed): %s\n' "${runs[@]}"
		printf '%s\n' "${logs[@]}"
		echo "otelcol_partitionmgr_last_success{task=\"create\"} exported by gateway(s): ${leaders[*]:-none}"
		echo "'partition maintenance failed' log lines: $failed_log"
	} | tee "$dir/partition-maintenance.txt" >&2
	local problems=()
	((partitions > 0)) || problems+=("no partition in $SCHEMA")
	((created[0] + created[1] == partitions)) || problems+=("$partitions partitions, but the gateways counted $((created[0] + created[1])) created")
	((creators == 1)) || problems+=("$creators gateways created partitions")
	((failed == 0 && failed_log == 0)) || problems+=("maintenance failed: $failed runs, $failed_log log lines")
	((written[0] > 0 && written[1] > 0)) || problems+=("a gateway wrote no rows (${written[0]}/${written[1]})")
	if ((${#problems[@]})); then
		scenario_problem=$(IFS=';' && echo "${problems[*]}")
		say "FAIL: $scenario_problem"
	fi
	collectors_stop
	result gateways $((SECONDS - t_begin)) "$(psql_db -c "SELECT count(*) FROM $SCHEMA.rejected_event")" \
		"2 collectors started together on schema $SCHEMA, 2 simulators at the same time, $rate req/s each (${per[0]}; ${per[1]}); rows written by gateway 0/1: ${written[0]}/${written[1]}. Partition maintenance once: $partitions partitions in the schema = otelcol_partitionmgr_partitions_created ${created[0]} (gateway 0) + ${created[1]} (gateway 1); otelcol_partitionmgr_last_success{task=create} (set by a gateway that ran the create job under the leader lock) exported by gateway(s) ${leaders[*]:-none}; otelcol_partitionmgr_runs ok/skipped/failed: ${runs[0]}; ${runs[1]} ($skipped runs skipped while the other gateway held the leader lock); $failed failed runs, $failed_log 'partition maintenance failed' log lines; $moved rows moved out of DEFAULT${scenario_problem:+; FAIL: $scenario_problem}"
}

scenario_two_tier() {
	begin two-tier
	local agent=2 dns= deadline
	"$SIM" dns -name gateways.chaos.test -addrs 127.0.0.1,127.0.0.2 >"$dir/dns.out" 2>"$dir/dns.log" &
	dns_pid=$!
	deadline=$((SECONDS + 10))
	until dns=$(head -n 1 "$dir/dns.out" 2>/dev/null) && [[ -n $dns ]]; do
		((SECONDS < deadline)) || die "mcprouter-sim dns did not start"
		sleep 0.1
	done
	gw_grpc=("127.0.0.1:$GRPC_PORT" "127.0.0.2:$GRPC_PORT")
	gw_config[agent]=$AGENT_CONFIG
	collector_launch 0
	collector_launch 1
	collector_healthy 0
	collector_healthy 1
	agent_start() {
		MCP_AGENT_STORAGE_DIR=$(gw_queue $agent) MCP_GATEWAY_ENDPOINT="dns://$dns/gateways.chaos.test:$GRPC_PORT" \
			collector_launch $agent
		collector_healthy $agent
	}
	agent_start
	sim_start -endpoint "127.0.0.1:$(gw_port "$GRPC_PORT" $agent)"
	at 20
	say "SIGKILL gateway 0, restarted at once"
	collector_kill 0
	collector_launch 0
	collector_healthy 0
	at 40
	say "both gateways stopped for $OUTAGE s (agent queue $(metric otelcol_exporter_queue_size $agent))"
	collector_stop 0
	collector_stop 1
	local down=$SECONDS
	sleep $((OUTAGE / 2))
	local queued
	queued=$(metric otelcol_exporter_queue_size $agent)
	say "SIGKILL the agent during the outage (queue $queued requests), restarted on its queue"
	collector_kill $agent
	agent_start
	sleep $((OUTAGE - (SECONDS - down)))
	say "gateways back after $((SECONDS - down)) s"
	collector_launch 0
	collector_launch 1
	collector_healthy 0
	collector_healthy 1
	finish_sim
	reconcile
	deadline=$((SECONDS + 120))
	local left
	until left=$(metric otelcol_exporter_queue_size $agent) && ((left == 0)) || ((SECONDS > deadline)); do sleep 1; done
	((left == 0)) || scenario_problem="the agent's queue holds $left requests after the run"
	local rows0 rows1
	rows0=$(metric otelcol_exporter_mcppg_rows_written 0)
	rows1=$(metric otelcol_exporter_mcppg_rows_written 1)
	((rows0 > 0 && rows1 > 0)) || scenario_problem="${scenario_problem:+$scenario_problem; }a gateway wrote no rows after the outage ($rows0/$rows1)"
	metrics_snapshot $agent >"$dir/metrics-agent-end.txt"
	collectors_stop
	kill -TERM "$dns_pid" 2>/dev/null
	dns_pid=
	gw_grpc=()
	gw_config=()
	result two-tier $((SECONDS - t_begin)) "$(psql_db -c "SELECT count(*) FROM $SCHEMA.rejected_event")" \
		"agent -> 2 gateways by DNS round robin; gateway 0 SIGKILLed at t=20 s; both gateways stopped at t=40 s for ${OUTAGE} s; the agent SIGKILLed mid-outage with $queued requests queued; rows written by gateway 0/1 after the outage: $rows0/$rows1; agent queue $left at the end${scenario_problem:+; FAIL: $scenario_problem}"
}

scenario_disk_full() {
	local run
	((EUID == 0)) || die "disk-full mounts a tmpfs: run it as root"
	for ((run = 1; run <= DISK_RUNS; run++)); do
		disk_full_run "disk-full-$run"
	done
}

# disk_full_run NAME: one run of disk-full.
disk_full_run() {
	begin "$1"
	mkdir -p "$queue_dir"
	mount -t tmpfs -o "size=${DISK_MIB}m" tmpfs "$queue_dir" || die "mount a ${DISK_MIB} MiB tmpfs on $queue_dir"
	mounted+=("$queue_dir")
	collector_start --set "extensions::diskguard::min_free_mib=$DISK_RESERVE_MIB"
	# The sender retries every refused request until it is acknowledged.
	sim_start -flush-timeout 30m
	at 15
	say "pg_ctl -m fast stop until the queue refuses data for lack of disk (${DISK_MIB} MiB, reserve ${DISK_RESERVE_MIB} MiB)"
	pg_stop
	local down=$SECONDS full=
	while ((SECONDS - down < 900)); do
		if (($(metric otelcol_diskguard_refused) > 0)); then
			full=$SECONDS
			break
		fi
		sleep 1
	done
	[[ -n $full ]] || die "the queue did not refuse for lack of disk within 900 s"
	say "disk at its reserve after $((full - down)) s ($(df -k --output=avail "$queue_dir" | tail -n 1) KiB free); keeping PostgreSQL down 30 s more"
	sleep 30
	metrics_snapshot >"$dir/metrics-full-30s.txt"
	local free_kib refused
	free_kib=$(df -k --output=avail "$queue_dir" | tail -n 1 | tr -d ' ')
	refused=$(metric otelcol_diskguard_refused)
	pg_up
	finish_sim
	reconcile
	# Drained without a restart: the queue holds nothing and says so.
	local deadline=$((SECONDS + 120)) queued
	until queued=$(metric otelcol_exporter_queue_size) && ((queued == 0)) || ((SECONDS > deadline)); do sleep 1; done
	((queued == 0)) || scenario_problem="otelcol_exporter_queue_size $queued after the drain"
	metrics_snapshot >"$dir/metrics-end.txt"
	collector_stop
	umount -l "$queue_dir" && mounted=("${mounted[@]/$queue_dir/}")
	result "$1" $((SECONDS - t_begin)) "$(psql_db -c "SELECT count(*) FROM $SCHEMA.rejected_event")" \
		"queue on a ${DISK_MIB} MiB tmpfs (min_free_mib $DISK_RESERVE_MIB); PostgreSQL stopped at t=15 s until the first refusal for disk ($((full - down)) s) + 30 s; ${free_kib} KiB free then; $refused requests refused for disk (the SDK retried them); queue_size $queued after the drain${scenario_problem:+; FAIL: $scenario_problem}"
}

for s in "${scenarios[@]}"; do
	"scenario_${s//-/_}"
done
scenario='done'
echo >&2
cat "$RESULTS" >&2
((failures == 0)) || die "$failures scenario(s) lost, duplicated or mis-rejected data"
say "every scenario: nothing lost, nothing duplicated"
