#!/usr/bin/env bash
# pg-down.sh: stop the private PostgreSQL cluster that scripts/pg-up.sh started
# in MCP_PG_DATA (default <repo>/.pgdata). A server that pg-up.sh merely reused
# is never touched: without MCP_PG_DATA/postmaster.pid there is nothing to do.
# The cluster's files are kept; `rm -rf .pgdata` removes them.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${MCP_PG_DATA:-$REPO/.pgdata}

log() { printf 'pg-down: %s\n' "$*" >&2; }

if [[ ! -f $DATA/postmaster.pid ]]; then
	log "no cluster started from $DATA is running"
	exit 0
fi
DATA=$(cd "$DATA" && pwd)

BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -z $BIN || ! -x $BIN/pg_ctl ]]; then
	command -v pg_ctl >/dev/null 2>&1 || { log "error: pg_ctl not found"; exit 1; }
	BIN=$(dirname "$(command -v pg_ctl)")
fi

as_owner() {
	if [[ $(id -u) -eq 0 ]]; then
		if command -v runuser >/dev/null 2>&1; then
			(cd / && runuser -u postgres -- "$@")
		else
			(cd / && su -s /bin/sh postgres -c "$(printf '%q ' "$@")")
		fi
	else
		"$@"
	fi
}

if ! as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
	log "cluster in $DATA is not running (stale postmaster.pid)"
	exit 0
fi
log "stopping cluster in $DATA"
as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
