#!/usr/bin/env bash
# compare.sh BUILD_A BUILD_B [ROUNDS]: benchmarks 1, 2 and 6 (the ledger's write path) of two
# builds side by side, in interleaved rounds (A, B, B, A, ...), so that the machine's noise
# falls on both alike. For a change to the ledger: BUILD_A from main, BUILD_B from the branch.
# Prints each run's lines as the benchmarks print them, prefixed with the build's label, and
# ends with the median of each figure per build.
#
# Environment: GPUSLOTS_BENCH_DIR (work dir, on the disk to measure; default BUILD_B/bench-compare).
# Each build gets its own ledgers (a newer build may migrate a ledger an older one cannot read).
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
A=$(cd "$1" && pwd)
B=$(cd "$2" && pwd)
ROUNDS=${3:-4}
WORK=${GPUSLOTS_BENCH_DIR:-$B/bench-compare}
mkdir -p "$WORK"
RESULTS=$WORK/compare-$(date -u +%Y%m%dT%H%M%SZ).txt
: >"$RESULTS"

run() {  # run LABEL BUILD ROUND
	local label=$1 build=$2 round=$3 dir=$WORK/$1
	"$build"/tests/bench/gpuslots_bench fleet --dir "$dir/fleet" --servers 10000 \
		--reservations 40000 >/dev/null
	"$build"/tests/bench/gpuslots_bench fleet --dir "$dir/fleet" --servers 4 \
		--reservations 16 >/dev/null
	{
		"$build"/tests/bench/gpuslots_bench durable --dir "$dir/ledger" --seconds 2
		"$build"/tests/bench/gpuslots_bench contention --dir "$dir/ledger" --seconds 2 \
			--processes 16 --round "$round" --policies project
		"$build"/tests/bench/bench_reserve_scale --dir="$dir/fleet" --servers=10000 \
			--reservations=40000 --benchmark_min_time=0.3 --benchmark_repetitions=3
	} 2>&1 | while IFS= read -r line; do
		case $line in
		"@ "*) echo "$label ${line#@ }" >>"$RESULTS" ;;
		*) echo "$label: $line" ;;
		esac
	done
}

for round in $(seq 1 "$ROUNDS"); do
	echo "round $round of $ROUNDS"
	if [ $((round % 2)) = 1 ]; then run a "$A" "$round"; run b "$B" "$round"
	else run b "$B" "$round"; run a "$A" "$round"; fi
done

echo
echo "medians over $ROUNDS rounds (a = $A, b = $B); raw: $RESULTS"
awk '{ v[$2 " " $1] = v[$2 " " $1] " " $3 }
	END {
		for (k in v) {
			n = split(substr(v[k], 2), x, " ")
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
			m = (n % 2) ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
			printf "%-60s %12.4g\n", k, m
		}
	}' "$RESULTS" | sort
