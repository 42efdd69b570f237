#!/usr/bin/env bash
# pg-up.sh: make sure a PostgreSQL server answers on MCP_PG_HOST:MCP_PG_PORT and
# that the database MCP_PG_DB exists.
#
#   1. If something already accepts connections there (pg_isready), reuse it.
#   2. Otherwise start a private cluster in MCP_PG_DATA (initdb on first use,
#      trust authentication, listening only on MCP_PG_HOST:MCP_PG_PORT, unix
#      socket inside the data directory). When no PostgreSQL binaries are
#      found and we are root on Debian/Ubuntu, install them with apt-get.
#   3. Create MCP_PG_DB if it does not exist (MCP_PG_DB= skips this).
#
# Idempotent: a second run reuses the server, restarting the private cluster if
# it was stopped. scripts/pg-down.sh stops only the private cluster.
#
# Environment (defaults):
#   MCP_PG_HOST  127.0.0.1     MCP_PG_PORT  5432
#   MCP_PG_USER  postgres      (superuser name of a cluster created here)
#   MCP_PG_DB    mcp_bridge
#   MCP_PG_DATA  <repo>/.pgdata
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOST=${MCP_PG_HOST:-127.0.0.1}
PORT=${MCP_PG_PORT:-5432}
PGUSER_NAME=${MCP_PG_USER:-postgres}
DB=${MCP_PG_DB-mcp_bridge}
DATA=${MCP_PG_DATA:-$REPO/.pgdata}

# The libpq environment of the caller must not redirect our client calls.
unset PGHOST PGPORT PGUSER PGDATABASE PGSERVICE PGPASSFILE PGOPTIONS

log() { printf 'pg-up: %s\n' "$*" >&2; }
die() { printf 'pg-up: error: %s\n' "$*" >&2; exit 1; }

BIN=""
# find_bin sets BIN to a directory holding initdb and pg_ctl (the newest
# /usr/lib/postgresql/<version>/bin first, then PATH); empty when none.
find_bin() {
	BIN=""
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	if [[ -n $d && -x $d/initdb && -x $d/pg_ctl ]]; then
		BIN=$d
		return
	fi
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		BIN=$(dirname "$(command -v pg_ctl)")
	fi
}

# tool NAME prints the path of a client tool (pg_isready, psql), preferring the
# server's bin directory.
tool() {
	if [[ -n $BIN && -x $BIN/$1 ]]; then
		echo "$BIN/$1"
	elif command -v "$1" >/dev/null 2>&1; then
		command -v "$1"
	else
		return 1
	fi
}

# ready succeeds when HOST:PORT accepts connections.
ready() {
	local isready
	if isready=$(tool pg_isready); then
		"$isready" -q -h "$HOST" -p "$PORT" -t 3 >/dev/null 2>&1
	else
		# No client tools yet: a TCP probe at least tells whether the port is taken.
		(exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
	fi
}

# as_owner runs a command as the owner of the private cluster: the invoking
# user, or the "postgres" system user when we are root (initdb and postgres
# refuse to run as root).
as_owner() {
	if [[ $(id -u) -eq 0 ]]; then
		# Run from / so that the postgres user does not trip over root's cwd.
		if command -v runuser >/dev/null 2>&1; then
			(cd / && runuser -u postgres -- "$@")
		else
			(cd / && su -s /bin/sh postgres -c "$(printf '%q ' "$@")")
		fi
	else
		"$@"
	fi
}

install_postgres() {
	[[ $(id -u) -eq 0 ]] || die "PostgreSQL binaries (initdb, pg_ctl) not found; install PostgreSQL or run as root to let this script apt-get it"
	command -v apt-get >/dev/null 2>&1 || die "PostgreSQL binaries not found and apt-get is unavailable; install PostgreSQL yourself"
	log "installing PostgreSQL with apt-get"
	# Keep the Debian package from creating and starting its own "main"
	# cluster on 5432 (password auth, would collide with ours).
	if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
		mkdir -p /etc/postgresql-common
		echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends postgresql postgresql-client
}

wait_ready() {
	local i
	for i in $(seq 1 "${1:-30}"); do
		ready && return 0
		sleep 1
	done
	return 1
}

start_private_cluster() {
	find_bin
	if [[ -z $BIN ]]; then
		install_postgres
		find_bin
		[[ -n $BIN ]] || die "PostgreSQL installed but initdb/pg_ctl still not found"
		# The package may have started a server on our port after all.
		if ready; then
			log "PostgreSQL answers on $HOST:$PORT after installation; reusing it"
			return
		fi
	fi
	log "using PostgreSQL binaries in $BIN"

	if [[ $(id -u) -eq 0 ]]; then
		id postgres >/dev/null 2>&1 ||
			useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
	fi

	mkdir -p "$DATA"
	DATA=$(cd "$DATA" && pwd)
	if [[ $(id -u) -eq 0 ]]; then
		chown postgres: "$DATA"
		# The postgres user must be able to reach the directory.
		as_owner test -x "$DATA" ||
			die "user postgres cannot access $DATA (a parent directory is not searchable); set MCP_PG_DATA to another path"
	fi
	chmod 700 "$DATA"

	if [[ ! -s $DATA/PG_VERSION ]]; then
		if [[ -n $(ls -A "$DATA") ]]; then
			die "$DATA is not empty and holds no PostgreSQL cluster; remove it or set MCP_PG_DATA"
		fi
		log "initdb $DATA (superuser $PGUSER_NAME, trust auth)"
		as_owner "$BIN/initdb" -D "$DATA" -U "$PGUSER_NAME" -A trust -E UTF8 --locale=C.UTF-8 >"$DATA.initdb.log" 2>&1 ||
			as_owner "$BIN/initdb" -D "$DATA" -U "$PGUSER_NAME" -A trust -E UTF8 --no-locale >"$DATA.initdb.log" 2>&1 ||
			{ cat "$DATA.initdb.log" >&2; die "initdb failed"; }
		rm -f "$DATA.initdb.log"
		# Settings for this private cluster; host and port are also passed on
		# every start so that MCP_PG_HOST/MCP_PG_PORT always win.
		cat >>"$DATA/postgresql.conf" <<-EOF

			# --- added by scripts/pg-up.sh ---
			listen_addresses = '$HOST'
			port = $PORT
			unix_socket_directories = '$DATA'
			max_connections = 200
			shared_buffers = 128MB
			fsync = on
			logging_collector = off
		EOF
	fi

	# A stale postmaster.pid from a killed server is handled by postgres
	# itself; pg_ctl status tells whether ours is still running.
	if as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
		log "cluster in $DATA is running but does not answer on $HOST:$PORT; waiting"
		wait_ready 30 && return
		die "cluster in $DATA runs but does not answer on $HOST:$PORT (started with another port? run scripts/pg-down.sh)"
	fi

	log "starting cluster $DATA on $HOST:$PORT"
	as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
		-o "-c listen_addresses=$HOST -p $PORT" start >/dev/null ||
		{ tail -n 30 "$DATA/server.log" >&2 || true; die "pg_ctl start failed (log: $DATA/server.log)"; }
	wait_ready 30 || die "cluster started but $HOST:$PORT does not answer"
}

ensure_database() {
	[[ -n $DB ]] || return 0
	local psql
	if ! psql=$(tool psql); then
		find_bin
		psql=$(tool psql) || die "psql not found; cannot create database $DB"
	fi
	local conn=(-X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$PORT" -U "$PGUSER_NAME" -d postgres)
	local lit=${DB//\'/\'\'} ident=${DB//\"/\"\"}
	if [[ $("$psql" "${conn[@]}" -Atc "SELECT 1 FROM pg_database WHERE datname = '$lit'") == 1 ]]; then
		log "database $DB exists"
		return
	fi
	log "creating database $DB"
	if ! "$psql" "${conn[@]}" -c "CREATE DATABASE \"$ident\"" 2>/dev/null; then
		# A concurrent run may have created it in between.
		[[ $("$psql" "${conn[@]}" -Atc "SELECT 1 FROM pg_database WHERE datname = '$lit'") == 1 ]] ||
			die "could not create database $DB"
	fi
}

find_bin
if ready; then
	log "PostgreSQL answers on $HOST:$PORT; reusing it"
else
	start_private_cluster
fi
ensure_database
log "ready: postgres://$PGUSER_NAME@$HOST:$PORT/${DB:-postgres}?sslmode=disable"
