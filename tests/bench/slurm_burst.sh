#!/usr/bin/env bash
# slurm_burst.sh BUILD_DIR WORK_DIR [ROUNDS] [JOBS] - benchmark 7: a burst of JOBS (default 60)
# sbatch jobs of random 1..4 GPU slots, submitted at once to 3 nodes x 4 GPUs, on two clusters
# side by side in one run:
#   before  Slurm knows nothing of the slots (no GRES, no job_submit mapping: the setup before
#           "Slurm schedules by the slots"); it packs jobs by CPU and the prolog can only wait
#           slurm.prolog_wait_seconds (5) for taken slots, then refuse the job.
#   after   the product's setup: the count-only GRES gpuslots/cpuslots and the job_submit/lua
#           mapping; the excess waits in Slurm's queue.
# Both run the same gpuslots.so with the same config; each round submits the same random sizes
# to both, the order alternating. Each job holds its GPUs for BURST_HOLD seconds (default 3:
# the burst then needs about 40 s of the cluster's GPUs, well beyond the prolog's 5 s wait, as
# real jobs do) and logs them (tests/integration/burst_job); tests/integration/burst_report.py
# reads the logs.
# Per cluster and round: completed % (the rest FAILED in the prolog), GPU use (GPU-seconds
# held by running jobs / (12 GPUs x the burst's span)), mean wait of the completed jobs
# (submission to start of the job's script), span, GPU overlaps (must be 0). Prints
# "@ b7.<cluster>.<figure> VALUE" lines (run_all.sh collects them, one call per round) and,
# over its own rounds, a summary of the medians.
#
# Ports GPUSLOTS_BENCH_PORT (default 18917) and up. Exit 77 when Slurm cannot run here.
set -euo pipefail
BUILD=$(cd "${1:?usage: slurm_burst.sh BUILD_DIR WORK_DIR [ROUNDS] [JOBS]}" && pwd)
WORK=${2:?usage: slurm_burst.sh BUILD_DIR WORK_DIR [ROUNDS] [JOBS]}
ROUNDS=${3:-3}
JOBS=${4:-60}
export BURST_HOLD=${BURST_HOLD:-3}  # sbatch passes the environment on to the jobs
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLUSTER=$REPO/tests/integration/cluster.sh
BASE_PORT=${GPUSLOTS_BENCH_PORT:-18917}

skip() {
	echo "benchmark 7 skipped: $*"
	exit 77
}
[ "$(id -u)" = 0 ] || skip "it must run as root (slurmd runs as root)"
"$CLUSTER" check >/dev/null 2>&1 || skip "$("$CLUSTER" check 2>&1 | tail -1)"
[ -f "$BUILD/plugin/gpuslots.so" ] || skip "$BUILD/plugin/gpuslots.so is not built"
command -v python3 >/dev/null || skip "python3 is needed (burst_report.py)"

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
CLUSTERS=$(mktemp -d /tmp/gsburst.XXXXXX)
chmod 0755 "$CLUSTERS"
NAMES=(before after)
teardown() {
	local n
	for n in "${NAMES[@]}"; do "$CLUSTER" down "$CLUSTERS/$n" >/dev/null 2>&1 || true; done
}
trap 'teardown; rm -rf "$CLUSTERS"' EXIT

k=0
for name in "${NAMES[@]}"; do
	if [ "$name" = before ]; then knobs=(SLOTS_GRES=0 JOB_SUBMIT=); else knobs=(); fi
	env NODES=3 GPUS=4 CPUS=8 PROLOG_FLAGS=Alloc PROLOG_WAIT=5 "${knobs[@]}" \
		GPUSLOTS_SO="$BUILD/plugin/gpuslots.so" GPUSLOTS_CLI="$BUILD/tools/gpuslots" \
		GPUSLOTS_LUA="$REPO/plugin/job_submit/gpuslots_job_submit.lua" \
		CTLD_PORT=$((BASE_PORT + 10 * k)) SLURMD_PORT=$((BASE_PORT + 10 * k + 1)) \
		"$CLUSTER" up "$CLUSTERS/$name" >"$CLUSTERS/$name.up.log" 2>&1 || {
		cat "$CLUSTERS/$name.up.log" >&2
		echo "slurm_burst.sh: cluster '$name' did not come up" >&2
		exit 1
	}
	k=$((k + 1))
done

# burst NAME ROUND SIZES...: submit, wait for the queue to drain, report.
burst() {
	local name=$1 round=$2 dir i j ids=()
	shift 2
	dir=$WORK/$name-$round
	rm -rf "$dir"
	mkdir -p "$dir"/marks "$dir"/out
	(
		# shellcheck disable=SC1091
		source "$CLUSTERS/$name/env.sh"
		i=0
		for size in "$@"; do
			j=$(sbatch --parsable -J burst -o "$dir/out/$i.out" --gpu-slots="$size" \
				"$REPO"/tests/integration/burst_job "$size" "$EPOCHREALTIME" "$dir"/marks)
			ids+=("$j")
			i=$((i + 1))
		done
		local end=$((SECONDS + 600))
		while [ -n "$(squeue -h -n burst -o %i)" ]; do
			[ $SECONDS -lt $end ] || {
				echo "slurm_burst.sh: $name round $round: jobs still queued after 600 s" >&2
				exit 1
			}
			sleep 0.5
		done
		local completed=0 failed=0 state
		for j in "${ids[@]}"; do
			state=$(scontrol -o show job "$j" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
			case $state in
			COMPLETED) completed=$((completed + 1)) ;;
			*) failed=$((failed + 1)) ;;
			esac
		done
		local drained
		drained=$(sinfo -h -R -o '%N' | tr '\n' ' ')
		python3 "$REPO"/tests/integration/burst_report.py 12 "$dir"/out/*.out >"$dir"/report.txt
		f() { sed -n "s/^$1 //p" "$dir"/report.txt; }
		echo "@ b7.${name}.completed_pct $((100 * completed / ${#ids[@]}))"
		echo "@ b7.${name}.failed $failed"
		echo "@ b7.${name}.gpu_use $(f gpu_use)"
		echo "@ b7.${name}.mean_wait_s $(f mean_wait_s)"
		echo "@ b7.${name}.span_s $(f span_s)"
		echo "@ b7.${name}.overlaps $(f overlaps)"
		echo "@ b7.${name}.drained_nodes $(wc -w <<<"$drained")"
		# Leave the cluster as the next round expects it.
		[ -z "${drained// /}" ] || scontrol update nodename=ALL state=resume
	)
}

results=$WORK/results-$(date -u +%Y%m%dT%H%M%SZ).txt
: >"$results"
for round in $(seq 1 "$ROUNDS"); do
	sizes=()
	for i in $(seq 1 "$JOBS"); do sizes+=($((RANDOM % 4 + 1))); done
	order=("${NAMES[@]}")
	[ $((round % 2)) = 0 ] && order=(after before)
	for name in "${order[@]}"; do
		echo "round $round: $name: $JOBS jobs of 1..4 GPU slots" >&2
		burst "$name" "$round" "${sizes[@]}" >"$WORK/last.txt"
		cat "$WORK/last.txt"
		sed -n 's/^@ //p' "$WORK/last.txt" >>"$results"
	done
done

# Medians over rounds.
echo
echo "== benchmark 7: $JOBS-job burst of 1..4 GPU slots held ${BURST_HOLD} s, on 3 x 4 GPUs, $ROUNDS rounds, medians (min..max)"
for key in completed_pct failed gpu_use mean_wait_s span_s overlaps drained_nodes; do
	for name in "${NAMES[@]}"; do
		awk -v k="b7.${name}.$key" '$1 == k { print $2 }' "$results" | sort -g |
			awk -v label="$name $key" '{ v[NR] = $1 } END {
				if (NR == 0) exit
				m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
				printf "%-28s %8s  (%s..%s)\n", label, m, v[1], v[NR] }'
	done
done
echo "raw results: $results"
