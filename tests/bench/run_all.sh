#!/usr/bin/env bash
# run_all.sh BUILD_DIR [options]: runs every gpuslots benchmark in interleaved rounds and prints
# the summary table (median and spread of each ratio over the rounds, against its goal).
#
#   --rounds N       rounds of benchmarks 1, 2, 3, 5, 6, interleaved (default 5)
#   --slurm-runs N   srun calls per configuration and round for benchmark 4 (default 30)
#   --slurm-rounds N rounds of benchmarks 4 and 7, each with fresh clusters (default 3)
#   --no-slurm       skip benchmarks 4 and 7 (the Slurm clusters)
#   --no-mariadb     skip benchmarks 9, 10, 11 (the shared ledger on a private MariaDB server
#                    that this script starts in the work dir and stops by its PID)
#   --smoke          a few seconds of everything, tiny sizes, no Slurm: checks that the
#                    benchmarks run (ctest's bench.smoke); its figures mean nothing
#
# Environment: GPUSLOTS_BENCH_DIR (work dir; default BUILD_DIR/bench-work; it must be on the
# disk you want to measure: the ledgers and the fsync probe live there), GPUSLOTS_SEED_DIR
# (the Python baseline; default ../shared/baseline next to the repository; skipped with a note
# when absent), PYTHON (default /usr/bin/python3, else python3 from PATH).
#
# Every figure is a ratio of two things measured side by side in the same round, because the
# machine is shared and noisy. Nothing here fails because something is slow: the exit status
# is non-zero only when a benchmark could not run.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 1 ] || usage
BUILD=$(cd "$1" && pwd) || usage
shift
ROUNDS=5
SLURM_RUNS=30
SLURM_ROUNDS=3
SLURM=1
SMOKE=0
MARIADB=1
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) ROUNDS=$2; shift 2 ;;
	--slurm-runs) SLURM_RUNS=$2; shift 2 ;;
	--slurm-rounds) SLURM_ROUNDS=$2; shift 2 ;;
	--no-slurm) SLURM=0; shift ;;
	--no-mariadb) MARIADB=0; shift ;;
	--smoke) SMOKE=1; SLURM=0; ROUNDS=1; shift ;;
	*) usage ;;
	esac
done

BENCH=$BUILD/tests/bench/gpuslots_bench
SCALE=$BUILD/tests/bench/bench_reserve_scale
CLI=$BUILD/tools/gpuslots
for f in "$BENCH" "$CLI"; do
	[ -x "$f" ] || { echo "run_all.sh: $f is missing; build first (make -C $BUILD)" >&2; exit 1; }
done
WORK=${GPUSLOTS_BENCH_DIR:-$BUILD/bench-work}
[ "$SMOKE" = 1 ] && WORK=$WORK/smoke
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
SEED_DIR=${GPUSLOTS_SEED_DIR:-$REPO/../shared/baseline}
if [ -f "$SEED_DIR/seed_v01.py" ] && [ -f "$SEED_DIR/seed_contention.py" ]; then
	SEED_DIR=$(cd "$SEED_DIR" && pwd)
else
	echo "run_all.sh: note: no Python baseline in $SEED_DIR (set GPUSLOTS_SEED_DIR);" \
		"the comparisons with seed_v01.py / seed_contention.py are skipped"
	SEED_DIR=
fi
if [ -z "${PYTHON:-}" ]; then
	# Debian's interpreter, not a version-manager shim that would add its own start-up time.
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$WORK/results-$STAMP.txt
LOG=$WORK/log-$STAMP.txt
: >"$RESULTS"

if [ "$SMOKE" = 1 ]; then
	SECONDS_PER_PHASE=0.2 PROCS=4 CLI_RUNS=2 HISTORY=20 SCALE_RUNS=1 LARGE=200 LARGE_RES=800
	SEED_PAIRS=5 JSON_RUNS=2 PROLOG_RUNS=5 MDB_PROCS=4 MDB_SECONDS=0.2
	GBENCH=(--benchmark_min_time=0.01)
else
	SECONDS_PER_PHASE=2 PROCS=16 CLI_RUNS=20 HISTORY=1000 SCALE_RUNS=5 LARGE=10000 LARGE_RES=40000
	SEED_PAIRS=100 JSON_RUNS=20 PROLOG_RUNS=200 MDB_PROCS=16 MDB_SECONDS=2
	GBENCH=(--benchmark_min_time=0.3 --benchmark_repetitions=3
		--benchmark_enable_random_interleaving=true)
fi
SEED_ARGS=()
[ -n "$SEED_DIR" ] && SEED_ARGS=(--seed-dir "$SEED_DIR" --python "$PYTHON")

# Runs one benchmark command of round $1: its readable lines go to the terminal and the log,
# its "@ KEY VALUE" lines into the results file as "ROUND KEY VALUE".
measure() {
	local round=$1
	shift
	"$@" 2>&1 | tee -a "$LOG" | while IFS= read -r line; do
		case $line in
		"@ "*) echo "$round ${line#@ }" >>"$RESULTS" ;;
		*) echo "  $line" ;;
		esac
	done
	return "${PIPESTATUS[0]}"
}

echo "gpuslots benchmarks: $ROUNDS round(s), work dir $WORK, log $LOG"
# Benchmarks 9-11: a private MariaDB server in the work dir (on the disk under test, like the
# SQLite ledgers), started as the tests start theirs, stopped by its PID when this script ends.
MDB_DIR=$WORK/mariadb
if [ "$MARIADB" = 1 ]; then
	trap 'sh "$REPO/tests/support/mariadb_server.sh" stop "$MDB_DIR" >/dev/null 2>&1' EXIT
	sh "$REPO/tests/support/mariadb_server.sh" start "$MDB_DIR" | tee -a "$LOG" | sed 's/^/  /'
	if [ -s "$MDB_DIR/unavailable" ]; then
		echo "run_all.sh: note: benchmarks 9-11 skipped: $(cat "$MDB_DIR/unavailable")"
		MARIADB=0
	fi
fi
echo "building the fleet fixtures ($LARGE servers, $LARGE_RES reservations; reused when present)"
"$BENCH" fleet --dir "$WORK/fleet" --servers "$LARGE" --reservations "$LARGE_RES" >/dev/null
"$BENCH" fleet --dir "$WORK/fleet" --servers 4 --reservations 16 >/dev/null

for round in $(seq 1 "$ROUNDS"); do
	echo "round $round of $ROUNDS"
	measure "$round" "$BENCH" durable --dir "$WORK/ledger" --seconds "$SECONDS_PER_PHASE"
	measure "$round" "$BENCH" contention --dir "$WORK/ledger" --seconds "$SECONDS_PER_PHASE" \
		--processes "$PROCS" --round "$round" --seed-pairs "$SEED_PAIRS" "${SEED_ARGS[@]}"
	measure "$round" "$BENCH" cli-pair --gpuslots "$CLI" --dir "$WORK/cli" --runs "$CLI_RUNS" \
		--history "$HISTORY" "${SEED_ARGS[@]}"
	measure "$round" "$BENCH" scale-cli --gpuslots "$CLI" --dir "$WORK/fleet" --large "$LARGE" \
		--reservations "$LARGE_RES" --runs "$SCALE_RUNS"
	measure "$round" "$BENCH" json --servers "$LARGE" --reservations "$LARGE_RES" --runs "$JSON_RUNS"
	if [ "$MARIADB" = 1 ]; then
		measure "$round" "$BENCH" mariadb-prolog --server-dir "$MDB_DIR" --dir "$WORK/mariadb-bench" \
			--runs "$PROLOG_RUNS"
		measure "$round" "$BENCH" mariadb-contention --server-dir "$MDB_DIR" \
			--dir "$WORK/mariadb-bench" --processes "$MDB_PROCS" --seconds "$MDB_SECONDS"
		measure "$round" "$BENCH" mariadb-status --server-dir "$MDB_DIR" --dir "$WORK/mariadb-bench" \
			--gpuslots "$CLI" --fleet-dir "$WORK/fleet" --large "$LARGE" --reservations "$LARGE_RES" \
			--runs "$SCALE_RUNS"
	fi
	if [ -x "$SCALE" ]; then
		measure "$round" "$SCALE" --dir="$WORK/fleet" --servers="$LARGE" \
			--reservations="$LARGE_RES" "${GBENCH[@]}"
	else
		echo "  bench_reserve_scale: not built (Google Benchmark missing); in-process 6 skipped"
	fi
done

if [ "$SLURM" = 1 ]; then
	for round in $(seq 1 "$SLURM_ROUNDS"); do
		echo "benchmark 4, round $round of $SLURM_ROUNDS"
		rc=0
		measure "$round" "$HERE/slurm_srun.sh" "$BUILD" "$WORK/slurm" "$SLURM_RUNS" || rc=$?
		# 77: Slurm cannot run here (not root, not installed): reported, not a failure.
		[ "$rc" = 77 ] && break
		[ "$rc" = 0 ] || exit "$rc"
	done
	for round in $(seq 1 "$SLURM_ROUNDS"); do
		echo "benchmark 7, round $round of $SLURM_ROUNDS"
		rc=0
		measure "$round" "$HERE/slurm_burst.sh" "$BUILD" "$WORK/burst" 1 || rc=$?
		[ "$rc" = 77 ] && break
		[ "$rc" = 0 ] || exit "$rc"
	done
fi

"$HERE/summarize.sh" "$RESULTS" "$WORK" "$SMOKE"
