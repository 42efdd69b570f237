#!/usr/bin/env bash
# Makes prometheus and promtool available (Debian's package "prometheus",
# 2.42 on bookworm), installing it when either is missing. Used by
# e2e/routeralerts_test.go and by the promtool rule tests; prints the
# directory that holds both binaries.
#
# Exit status: 0 when both are there (already, or installed now); 1 when
# they are missing and cannot be installed here (not root, no apt-get, or
# the Debian mirror does not answer).
#
# The package's own service is not started: it is installed with
# --no-install-recommends, and this script starts nothing.
set -euo pipefail

have() { command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; }

if ! have; then
	if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
		echo "prometheus-up: prometheus/promtool missing and cannot be installed (needs root and apt-get)" >&2
		exit 1
	fi
	echo "prometheus-up: installing the Debian package prometheus" >&2
	export DEBIAN_FRONTEND=noninteractive
	# policy-rc.d 101: do not start the package's service (a container
	# without systemd would fail at it; a host would get a second Prometheus).
	policy=/usr/sbin/policy-rc.d
	created_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
	fi
	trap 'if [[ $created_policy -eq 1 ]]; then rm -f "$policy"; fi' EXIT
	if ! timeout 300 apt-get install -y --no-install-recommends prometheus >&2; then
		timeout 300 apt-get update >&2 || true
		timeout 300 apt-get install -y --no-install-recommends prometheus >&2 || true
	fi
fi

if ! have; then
	echo "prometheus-up: prometheus/promtool still missing after apt-get install" >&2
	exit 1
fi
dirname "$(command -v promtool)"
