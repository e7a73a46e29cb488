#!/usr/bin/env bash
# demo.sh BUILD_DIR: gpuslots on a real Slurm cluster, start to finish, in about a minute.
# Brings up a two-node cluster (munged, slurmctld, two slurmd on 127.0.0.1) with the freshly
# built plugin, runs a few jobs with --gpu-slots, shows `gpuslots status` while they run, and
# stops and removes everything again, also when interrupted. Run as root (slurmd needs it).
# Run by `cmake --build build --target demo`.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=$(cd "${1:?usage: demo.sh BUILD_DIR}" && pwd)
DIR=$BUILD/demo-cluster
CLUSTER=$HERE/cluster.sh

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() {
	printf '$ %s\n' "$*"
	"$@"
}
# Polls a condition (a command) every 0.2 s, at most $1 seconds.
wait_until() {
	local limit=$1 end
	shift
	end=$((SECONDS + limit))
	until "$@"; do
		if [ $SECONDS -ge $end ]; then
			echo "demo: gave up waiting for: $*" >&2
			return 1
		fi
		sleep 0.2
	done
}

if ! "$CLUSTER" check; then
	echo "demo: this machine cannot run the demo cluster (reason above)" >&2
	exit 1
fi
cleanup() {
	bold "Stopping the cluster"
	"$CLUSTER" down "$DIR" >/dev/null 2>&1 || true
	rm -rf "$DIR"
	echo "done: nothing is left running"
}
trap cleanup EXIT

bold "Starting a local Slurm cluster: 2 nodes (n1, n2), 4 GPUs and 8 CPUs each, gpuslots.so loaded"
NODES=2 GPUS=4 CPUS=8 PROLOG_FLAGS=Alloc PROLOG_WAIT=3 \
	GPUSLOTS_SO=$BUILD/plugin/gpuslots.so GPUSLOTS_CLI=$BUILD/tools/gpuslots \
	"$CLUSTER" up "$DIR" >/dev/null
# shellcheck source=/dev/null
source "$DIR"/env.sh
echo "plugstack.conf: $(grep -v '^#' "$DIR"/etc/plugstack.conf)"
show gpuslots status

bold "A job asks for 2 GPU slots: it sees exactly the GPUs it reserved"
show srun -N1 -w n1 --gpu-slots=2 --cpu-slots=2 \
	bash -c 'echo "$SLURMD_NODENAME: CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"'

bold "A job without --gpu-slots sees no GPU (CUDA_VISIBLE_DEVICES is set, and empty)"
show srun -N1 bash -c 'echo "CUDA_VISIBLE_DEVICES=[$CUDA_VISIBLE_DEVICES]"'

bold "A bad value is refused by srun itself; no job is created"
show srun --gpu-slots=9 true || echo "(srun exit code $?)"

bold "Batch jobs hold GPUs while they run; status shows them by job id"
out=$DIR/demo-out
mkdir -p "$out"
j1=$(sbatch --parsable -w n1 --gpu-slots=3 --cpu-slots=4 -o "$out/%j.out" \
	--wrap 'echo "job $SLURM_JOB_ID: CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"; sleep 300')
j2=$(sbatch --parsable -N2 --gpu-slots=1 -o "$out/%j.out" \
	--wrap 'srun bash -c "echo job \$SLURM_JOB_ID on \$SLURMD_NODENAME: CUDA_VISIBLE_DEVICES=\$CUDA_VISIBLE_DEVICES"; sleep 300')
echo "submitted jobs $j1 (3 GPUs on n1) and $j2 (1 GPU on each of n1 and n2)"
held() { [ "$(gpuslots status --json | grep -o '"origin":"slurm"' | wc -l)" -ge 3 ]; }
wait_until 60 held
show gpuslots status
printed() { [ -s "$out/$j1.out" ] && [ "$(wc -l <"$out/$j2.out" 2>/dev/null || echo 0)" -ge 2 ]; }
wait_until 30 printed
cat "$out/$j1.out" "$out/$j2.out"

bold "Work outside Slurm reserves by hand from the same ledger"
show gpuslots allocate notebook-alice 1 2 --server n2

bold "n1 is now full: a job asking for a GPU there waits up to 3 s, then fails with a clear message"
show srun -w n1 --gpu-slots=1 true || echo "(srun exit code $?)"
not_completing() { ! sinfo -h -N -o '%t' | grep -q comp; }
wait_until 30 not_completing
show sinfo -N -o '%N %t %E'
echo "(no node is drained: contention is the job's problem, not the node's)"

bold "When the jobs end, the epilog gives their slots back"
show scancel "$j1" "$j2"
released() { [ "$(gpuslots status --json | grep -o '"origin":"slurm"' | wc -l)" -eq 0 ]; }
wait_until 60 released
show gpuslots release notebook-alice
show gpuslots status
