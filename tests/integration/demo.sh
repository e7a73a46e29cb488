#!/usr/bin/env bash
# demo.sh BUILD_DIR: gpuslots on a real Slurm cluster, start to finish, in about a minute.
# Brings up a two-node cluster (munged, slurmctld, two slurmd on 127.0.0.1) with the freshly
# built plugin and Slurm set up to schedule by the slots (the slot GRES and the job_submit
# mapping), runs jobs with --gpu-slots, shows more jobs than GPUs waiting in Slurm's queue and
# starting as others end, `gpuslots status` while they run, a manual booking that Slurm counts,
# and stops and removes everything again, also when interrupted. Run as root (slurmd needs it).
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
	GPUSLOTS_LUA=$HERE/../../plugin/job_submit/gpuslots_job_submit.lua \
	"$CLUSTER" up "$DIR" >/dev/null
# shellcheck source=/dev/null
source "$DIR"/env.sh
echo "plugstack.conf: $(grep -v '^#' "$DIR"/etc/plugstack.conf)"
echo "slurm.conf:     $(grep -E '^(GresTypes|JobSubmitPlugins|PrologFlags)=' "$DIR"/etc/slurm.conf | tr '\n' ' ')"
echo "                $(grep -o 'NodeName=n1 .*Gres=[^ ]*' "$DIR"/etc/slurm.conf | sed 's/ NodeHostname.*Gres=/ ... Gres=/')"
show gpuslots check-config
show gpuslots status

bold "A job asks for 2 GPU slots: it sees exactly the GPUs it reserved"
show srun -N1 -w n1 --gpu-slots=2 --cpu-slots=2 \
	bash -c 'echo "$SLURMD_NODENAME: CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"'

bold "A job without --gpu-slots sees no GPU (CUDA_VISIBLE_DEVICES is set, and empty)"
show srun -N1 bash -c 'echo "CUDA_VISIBLE_DEVICES=[$CUDA_VISIBLE_DEVICES]"'

bold "A bad value is refused by srun itself; no job is created"
show srun --gpu-slots=9 true || echo "(srun exit code $?)"

bold "Six batch jobs of 2 GPUs each on 8 GPUs: Slurm starts four, the rest wait for slots"
out=$DIR/demo-out
mkdir -p "$out"
jobs=()
for i in 1 2 3 4 5 6; do
	jobs+=("$(sbatch --parsable -J demo --gpu-slots=2 -o "$out/%j.out" \
		--wrap 'echo "job $SLURM_JOB_ID on $SLURMD_NODENAME: CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"; sleep 4')")
done
echo "submitted jobs ${jobs[*]}"
running() { [ "$(squeue -h -n demo -t R | wc -l)" -ge 4 ]; }
wait_until 60 running
show squeue -n demo -o '%.5i %.8T %.12r %.6N %b'
show gpuslots status
bold "As jobs end, the waiting ones start (no job fails, no GPU is shared)"
last=""
seen() {
	local now
	now=$(squeue -h -n demo -o '%i:%T' | tr '\n' ' ')
	if [ "$now" != "$last" ]; then
		echo "  $(date +%T)  ${now:-(all done)}"
		last=$now
	fi
	[ -z "$now" ]
}
wait_until 90 seen
for j in "${jobs[@]}"; do
	echo "  $(scontrol -o show job "$j" | grep -o 'JobState=[A-Z]*'): $(cat "$out/$j.out")"
done

bold "Work outside Slurm books by hand; on a server Slurm schedules, the booking holds a Slurm job"
show gpuslots allocate notebook-alice 4 2 --server n2
show squeue -o '%.5i %.30j %.8T %N'
sbatch --parsable -J demo-after -w n2 --gpu-slots=1 -o "$out/after.out" --wrap 'echo "job $SLURM_JOB_ID ran on n2: CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"' >"$out/after.id"
pending() { [ "$(squeue -h -j "$(cat "$out/after.id")" -o %r)" = Resources ]; }
wait_until 30 pending
echo "job $(cat "$out/after.id") on n2 waits: $(squeue -h -j "$(cat "$out/after.id")" -o '%T (%r)')"
show gpuslots release notebook-alice
done_after() { [ -s "$out/after.out" ]; }
wait_until 60 done_after
cat "$out/after.out"
released() { [ "$(gpuslots status --json | grep -o '"origin":"slurm"' | wc -l)" -eq 0 ]; }
wait_until 60 released
show gpuslots status
