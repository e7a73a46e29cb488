#!/usr/bin/env bash
# run.sh CLUSTER_DIR SCENARIO: run one integration scenario (a scenario_SCENARIO function from
# scenarios/*.sh) against the cluster that `cluster.sh up CLUSTER_DIR` started.
# Exit status: 0 passed; 1 failed (diagnostics printed); 77 skipped, with the reason printed
# (Slurm cannot run on this machine).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE"/lib.sh
for f in "$HERE"/scenarios/*.sh; do
	# shellcheck disable=SC1090
	source "$f"
done
[ $# = 2 ] || fail "usage: $0 CLUSTER_DIR SCENARIO"
declare -F "scenario_$2" >/dev/null || fail "no such scenario: $2 (see $HERE/scenarios/)"
it_begin "$1" "$2"
"scenario_$2"
