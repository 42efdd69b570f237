# shellcheck shell=bash
# scripts/runtime-env.sh: the Go runtime settings the container image runs the
# collector with (the Dockerfile's `ENV GOGC=... GOMEMLIMIT=...` line, their
# one source), exported unless the caller set them, so that `make run`,
# scripts/demo.sh, bench/ and chaos/ measure the collector as it ships.
# Sourced, not run. Why these values: docs/operations.md, "Memory and garbage
# collection".
_runtime_env_line=$(sed -n 's/^ENV \(GOGC=[^ ]* GOMEMLIMIT=[^ ]*\)$/\1/p' "$(dirname "${BASH_SOURCE[0]}")/../Dockerfile")
if [[ -z $_runtime_env_line ]]; then
	echo "scripts/runtime-env.sh: no 'ENV GOGC=... GOMEMLIMIT=...' line in the Dockerfile" >&2
	return 1
fi
for _kv in $_runtime_env_line; do
	_name=${_kv%%=*}
	[[ -n ${!_name:-} ]] || export "${_kv?}"
done
unset _kv _name _runtime_env_line
