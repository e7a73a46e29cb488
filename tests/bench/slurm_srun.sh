#!/usr/bin/env bash
# slurm_srun.sh BUILD_DIR WORK_DIR [RUNS] - benchmark 4: `srun -N1 --gpu-slots=1 true` against
# the same cluster with an empty SPANK plugin (job_prolog/job_epilog that do nothing: the floor
# of this design), with no plugin, and against `srun -N1 --gres=gpu:1 true` with Slurm's own
# gres/gpu (fake device files), with PrologFlags unset and with PrologFlags=Alloc.
#
# For each PrologFlags setting it brings up six one-node clusters side by side with
# tests/integration/cluster.sh (none, empty, gres, gpuslots with durability full (the default),
# gpuslots with durability normal, and gpuslots_aged: durability full, on a ledger that already
# has GPUSLOTS_BENCH_HISTORY=1000 operations by short-lived processes behind it, like a node
# that ran 500 jobs), on ports 18817 and up so that it does not collide with an integration
# run, and then alternates: one srun on each cluster in turn, RUNS times
# (default 30), after two warm-up passes. Alternating also leaves each cluster a few
# hundred ms between its jobs, so no srun queues behind the previous job's epilog.
# Prints medians and quartiles, and "@ KEY VALUE" lines for run_all.sh. The clusters are
# torn down afterwards, also on failure.
#
# GPUSLOTS_BENCH_BEFORE=OTHER_BUILD_DIR adds two configurations on a cluster that loads that
# build's plugin: before (--gpu-slots=1) and before_plain (no options), to compare two versions
# of the plugin side by side in the same run.
#
# Exit 77 when Slurm cannot run here (not root, not installed), with the reason.
set -euo pipefail
BUILD=$(cd "${1:?usage: slurm_srun.sh BUILD_DIR WORK_DIR [RUNS]}" && pwd)
WORK=${2:?usage: slurm_srun.sh BUILD_DIR WORK_DIR [RUNS]}
RUNS=${3:-30}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLUSTER=$REPO/tests/integration/cluster.sh
BASE_PORT=${GPUSLOTS_BENCH_PORT:-18817}

skip() {
	echo "benchmark 4 skipped: $*"
	exit 77
}
[ "$(id -u)" = 0 ] || skip "it must run as root (slurmd runs as root)"
[ -x "$CLUSTER" ] || skip "$CLUSTER is missing"
"$CLUSTER" check >/dev/null 2>&1 || skip "$("$CLUSTER" check 2>&1 | tail -1)"
GPUSLOTS_SO=$BUILD/plugin/gpuslots.so
[ -f "$GPUSLOTS_SO" ] || skip "$GPUSLOTS_SO is not built (the plugin needs libslurm-dev)"

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
EMPTY_SO=$BUILD/tests/integration/empty_spank.so
if [ ! -f "$EMPTY_SO" ]; then
	# Not built by the integration tests' CMake here: build it the way Slurm plugins are built.
	EMPTY_SO=$WORK/empty_spank.so
	cc -shared -fPIC -O2 -o "$EMPTY_SO" "$REPO/tests/integration/empty_spank.c"
fi
# Slurm's socket paths must stay under 108 bytes: the clusters live under a short path.
CLUSTERS=$(mktemp -d /tmp/gsbench.XXXXXX)
chmod 0755 "$CLUSTERS"
# gpuslots_plain is `srun -N1 true` (no --gpu-slots) on the gpuslots cluster: the plugin is
# loaded everywhere but its prolog has nothing to reserve. It is kept away from gpuslots in
# the rotation, so that it never queues behind that cluster's previous epilog.
NAMES=(none gpuslots empty gres gpuslots_plain gpuslots_normal gpuslots_aged)
BEFORE_SO=
if [ -n "${GPUSLOTS_BENCH_BEFORE:-}" ]; then
	BEFORE_SO=$(cd "$GPUSLOTS_BENCH_BEFORE" && pwd)/plugin/gpuslots.so
	[ -f "$BEFORE_SO" ] || { echo "slurm_srun.sh: $BEFORE_SO is not built" >&2; exit 1; }
	# Each plain configuration four places away from its cluster's --gpu-slots one, so that
	# it never queues behind that job's epilog.
	NAMES=(none gpuslots empty before gres gpuslots_plain gpuslots_normal before_plain gpuslots_aged)
fi
HISTORY=${GPUSLOTS_BENCH_HISTORY:-1000}
BENCH=$BUILD/tests/bench/gpuslots_bench
up_names=()
cluster_of() {
	case $1 in
	gpuslots_plain) echo gpuslots ;;
	before_plain) echo before ;;
	*) echo "$1" ;;
	esac
}
teardown() {
	local n
	for n in "${up_names[@]}"; do "$CLUSTER" down "$CLUSTERS/$n" >/dev/null 2>&1 || true; done
	up_names=()
}
trap 'teardown; rm -rf "$CLUSTERS"' EXIT

# up NAME INDEX FLAGS: one single-node cluster of the given kind.
up() {
	local name=$1 k=$2 flags=$3 plugin=none gres=0 durability=full so=$GPUSLOTS_SO
	case $name in
	before) plugin=gpuslots so=$BEFORE_SO ;;
	gpuslots_normal) plugin=gpuslots durability=normal ;;
	empty) plugin=empty ;;
	gres) gres=4 ;;
	gpuslots*) plugin=gpuslots ;;
	esac
	up_names+=("$name")
	# The plugin's own cost: Slurm is not told about the slots here (no GRES, no job_submit
	# mapping), as in the configurations this benchmark has always compared; benchmark 7
	# (slurm_burst.sh) measures Slurm scheduling by them.
	NODES=1 GPUS=4 CPUS=8 PLUGIN=$plugin GRES=$gres PROLOG_FLAGS=$flags DURABILITY=$durability \
		SLOTS_GRES=0 JOB_SUBMIT= \
		GPUSLOTS_SO=$so EMPTY_SO=$EMPTY_SO \
		CTLD_PORT=$((BASE_PORT + 10 * k)) SLURMD_PORT=$((BASE_PORT + 10 * k + 1)) \
		"$CLUSTER" up "$CLUSTERS/$name" >"$CLUSTERS/$name.up.log" 2>&1 || {
		cat "$CLUSTERS/$name.up.log" >&2
		echo "slurm_srun.sh: cluster '$name' did not come up" >&2
		exit 1
	}
	local yaml=$CLUSTERS/$name/etc/gpuslots.yaml
	# A node that has already run HISTORY/2 jobs: its ledger has that many operations by
	# short-lived processes (prologs, epilogs) behind it.
	if [ "$name" = gpuslots_aged ]; then
		"$BENCH" history --config "$yaml" --server n1 --operations "$HISTORY"
	fi
}

srun_args() {
	case $1 in
	gres) echo "-N1 --gres=gpu:1 true" ;;
	gpuslots_plain | before_plain) echo "-N1 true" ;;
	gpuslots* | before) echo "-N1 --gpu-slots=1 true" ;;
	*) echo "-N1 true" ;;
	esac
}

# time_srun NAME: one srun on that cluster; prints its wall time in ms (bash's own clock: no
# extra process inside the interval).
time_srun() {
	local t0 t1 us args conf
	args=$(srun_args "$1")
	conf=$CLUSTERS/$(cluster_of "$1")/etc/slurm.conf
	t0=$EPOCHREALTIME
	# shellcheck disable=SC2086
	if ! SLURM_CONF=$conf srun $args >/dev/null 2>>"$CLUSTERS/srun.err"; then
		echo "slurm_srun.sh: 'srun $args' failed on cluster $1:" >&2
		tail -5 "$CLUSTERS/srun.err" >&2
		return 1
	fi
	t1=$EPOCHREALTIME
	us=$((10#${t1/./} - 10#${t0/./}))
	printf '%d.%03d\n' $((us / 1000)) $((us % 1000))
}

stats() { # stats FILE: median q1 q3 of the numbers in FILE
	sort -n "$1" | awk '{a[NR]=$1} END {
		m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2
		printf "%s %s %s\n", m, a[int((NR+3)/4)], a[int((3*NR+1)/4)] }'
}

for flags in "" Alloc; do
	tag=${flags:-unset}
	tag=${tag,,}
	echo "== 4: srun -N1, PrologFlags=${flags:-(unset)}: ${NAMES[*]}, $RUNS alternating runs each =="
	k=0
	for n in "${NAMES[@]}"; do
		[ "$(cluster_of "$n")" = "$n" ] || continue
		up "$n" "$k" "$flags"
		k=$((k + 1))
	done
	# The plugin really hands out a GPU (else its timing would mean nothing).
	seen=$(SLURM_CONF=$CLUSTERS/gpuslots/etc/slurm.conf srun -N1 --gpu-slots=1 printenv CUDA_VISIBLE_DEVICES)
	[ "$seen" = 0 ] || { echo "gpuslots cluster: CUDA_VISIBLE_DEVICES='$seen', expected 0" >&2; exit 1; }
	for n in "${NAMES[@]}"; do : >"$CLUSTERS/$n.ms"; done
	# Two warm-up passes (not counted), then RUNS measured passes; each pass starts one
	# cluster further on, so no configuration always runs first or right after another.
	for i in $(seq -1 "$RUNS"); do
		[ "$i" = 1 ] && : >"$CLUSTERS/srun.err"
		for j in $(seq 0 $((${#NAMES[@]} - 1))); do
			n=${NAMES[$(((i + 2 + j) % ${#NAMES[@]}))]}
			if [ "$i" -ge 1 ]; then
				time_srun "$n" >>"$CLUSTERS/$n.ms" || exit 1
			else
				time_srun "$n" >/dev/null || exit 1
			fi
		done
	done
	declare -A med
	for n in "${NAMES[@]}"; do
		read -r m q1 q3 < <(stats "$CLUSTERS/$n.ms")
		med[$n]=$m
		printf '%-16s median %6.1f ms (quartiles %s..%s ms)\n' "$n" "$m" "$q1" "$q3"
		echo "@ b4.$tag.${n}_ms $m"
	done
	awk -v g="${med[gpuslots]}" -v gn="${med[gpuslots_normal]}" -v ga="${med[gpuslots_aged]}" \
		-v e="${med[empty]}" -v z="${med[none]}" -v r="${med[gres]}" -v t="$tag" -v h="$HISTORY" \
		-v p="${med[gpuslots_plain]}" 'BEGIN {
		printf "gpuslots - empty plugin: %+.1f ms (durability normal: %+.1f ms; after %d operations: %+.1f ms; without --gpu-slots: %+.1f ms); empty - none: %+.1f ms; gpuslots / native gres: %.2f\n", g - e, gn - e, h, ga - e, p - e, e - z, g / r
		printf "@ b4.%s.gpuslots_minus_empty_ms %s\n", t, g - e
		printf "@ b4.%s.gpuslots_normal_minus_empty_ms %s\n", t, gn - e
		printf "@ b4.%s.gpuslots_aged_minus_empty_ms %s\n", t, ga - e
		printf "@ b4.%s.empty_minus_none_ms %s\n", t, e - z
		printf "@ b4.%s.gpuslots_over_gres %s\n", t, g / r
		printf "@ b4.%s.plain_minus_empty_ms %s\n", t, p - e
		printf "@ b4.%s.gpuslots_over_empty %s\n", t, g / e }'
	if [ -n "$BEFORE_SO" ]; then
		awk -v b="${med[before]}" -v bp="${med[before_plain]}" -v e="${med[empty]}" -v t="$tag" \
			-v g="${med[gpuslots]}" -v p="${med[gpuslots_plain]}" 'BEGIN {
			printf "before (%s) - empty plugin: %+.1f ms, without --gpu-slots: %+.1f ms\n", ENVIRON["GPUSLOTS_BENCH_BEFORE"], b - e, bp - e
			printf "@ b4.%s.before_minus_empty_ms %s\n", t, b - e
			printf "@ b4.%s.before_plain_minus_empty_ms %s\n", t, bp - e
			printf "@ b4.%s.plain_minus_before_plain_ms %s\n", t, p - bp
			printf "@ b4.%s.gpuslots_minus_before_ms %s\n", t, g - b }'
	fi
	unset med
	q=$(grep -c 'queued and waiting' "$CLUSTERS/srun.err" || true)
	[ "$q" = 0 ] || echo "note: $q srun(s) queued behind a previous job's epilog"
	: >"$CLUSTERS/srun.err"
	teardown
done
