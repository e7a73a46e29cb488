#!/usr/bin/env bash
# check_systemd_units.sh TOOL SERVICE TIMER: systemd's own checker on the shipped reconcile
# units (etc/systemd/), with ExecStart pointed at the built tool (systemd-analyze wants an
# executable there). Any complaint fails: systemd-analyze exits 0 on bad timer values too,
# but says so. Exit 77 (skipped) where systemd-analyze is not installed.
set -uo pipefail
tool=$1 service=$2 timer=$3
if ! command -v systemd-analyze >/dev/null; then
	echo "SKIP: systemd-analyze not found (apt-get install systemd)"
	exit 77
fi
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
grep -q '^ExecStart=/usr/bin/gpuslots reconcile$' "$service" ||
	{ echo "FAIL: $service does not run '/usr/bin/gpuslots reconcile'"; exit 1; }
sed "s|^ExecStart=/usr/bin/gpuslots |ExecStart=$tool |" "$service" >"$dir/gpuslots-reconcile.service"
cp "$timer" "$dir/gpuslots-reconcile.timer"
out=$(cd "$dir" && timeout 60 systemd-analyze verify ./gpuslots-reconcile.service ./gpuslots-reconcile.timer 2>&1)
rc=$?
if [ $rc != 0 ] || [ -n "$out" ]; then
	echo "FAIL: systemd-analyze verify (exit $rc): $out"
	exit 1
fi
echo "ok: systemd-analyze verify has nothing to say about the reconcile service and timer"
