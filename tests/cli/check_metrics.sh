#!/bin/sh
# `gpuslots metrics` checked by Prometheus's own linter, `promtool check metrics` (Debian
# package prometheus): names, HELP/TYPE, no _total on a gauge, label syntax. The ledger holds
# manual bookings on two servers and one on a server since removed from the config, so that
# every metric family has samples.
#
#   check_metrics.sh GPUSLOTS
# Exit 77 (skipped) when promtool is not installed.
set -eu
gpuslots=$1
if ! command -v promtool >/dev/null 2>&1; then
    echo "SKIPPED: promtool not found (apt-get install prometheus)"
    exit 77
fi
promtool --version 2>&1 | head -1
dir=$(mktemp -d "${TMPDIR:-/tmp}/gpuslots-metrics-XXXXXX")
trap 'rm -rf "$dir"' EXIT
cat >"$dir/all.yaml" <<YAML
servers:
  - {name: 'gpu-[0-2]', gpus: 4, cpus: 32}
state:
  path: $dir/state.db
  write_queue: false
YAML
sed 's/gpu-\[0-2\]/gpu-[0-1]/' "$dir/all.yaml" >"$dir/shrunk.yaml"
"$gpuslots" --config "$dir/all.yaml" allocate a 2 8 --server gpu-0 >/dev/null
"$gpuslots" --config "$dir/all.yaml" allocate b 1 0 --server gpu-1 >/dev/null
"$gpuslots" --config "$dir/all.yaml" allocate c 4 4 --server gpu-2 >/dev/null
"$gpuslots" --config "$dir/shrunk.yaml" metrics >"$dir/metrics.prom"
cat "$dir/metrics.prom"
for family in gpuslots_ledger_up gpuslots_server_gpus gpuslots_server_gpus_reserved \
    gpuslots_server_cpus gpuslots_server_cpus_reserved gpuslots_server_reservations \
    gpuslots_gpu_reservation_info gpuslots_gpu_reservation_info_dropped \
    gpuslots_ledger_problems gpuslots_removed_servers_holding \
    gpuslots_removed_server_reservations; do
    grep -q "^$family[{ ]" "$dir/metrics.prom" || { echo "FAIL: no sample of $family"; exit 1; }
done
grep -q '^gpuslots_removed_servers_holding 1$' "$dir/metrics.prom" ||
    { echo "FAIL: the removed server gpu-2 is not counted"; exit 1; }
if ! promtool check metrics <"$dir/metrics.prom"; then
    echo "FAIL: promtool check metrics found problems (above)"
    exit 1
fi
echo "promtool check metrics: no problems"
