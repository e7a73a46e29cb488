#!/usr/bin/env bash
# profile_hooks.sh BUILD_DIR WORK_DIR [JOBS] - where one job's hooks spend their time on the
# node (issue: "the hook path that works"). Brings up a one-node cluster with
# tests/integration/cluster.sh (PrologFlags unset, as benchmark 4's gpuslots configuration),
# attaches strace to slurmd following every process it starts (-ff: one trace per process),
# runs JOBS (default 20) `srun -N1 --gpu-slots=1 true` and as many `srun -N1 true`, and
# prints per kind of process (the prolog and epilog processes, the step's slurmstepd) and
# per kind of job: how many there were, the median wall time from the process's exec to its
# exit (under strace: slower than without, so compare within the table), and per process the
# count and total time of the system calls that cost most, sync calls first.
#
# RECORD_DIR=DIR puts the plugin's job records there (default: the cluster's DIR/records, on
# the work dir's disk); RECORD_DIR=/dev/shm/... measures a tmpfs, as /run is on a node.
# Exit 77 when Slurm or strace cannot run here.
set -euo pipefail
BUILD=$(cd "${1:?usage: profile_hooks.sh BUILD_DIR WORK_DIR [JOBS]}" && pwd)
WORK=${2:?usage: profile_hooks.sh BUILD_DIR WORK_DIR [JOBS]}
JOBS=${3:-20}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLUSTER=$HERE/../integration/cluster.sh
PORT=${GPUSLOTS_BENCH_PORT:-18717}
skip() { echo "profile_hooks.sh skipped: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "it must run as root (slurmd runs as root)"
command -v strace >/dev/null || skip "strace is not installed (apt-get install strace)"
"$CLUSTER" check >/dev/null 2>&1 || skip "$("$CLUSTER" check 2>&1 | tail -1)"
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
C=$(mktemp -d /tmp/gsprof.XXXXXX)
chmod 0755 "$C"
TRACES=$WORK/traces
rm -rf "$TRACES"
mkdir -p "$TRACES"
STRACE_PID=
cleanup() {
	[ -n "$STRACE_PID" ] && kill "$STRACE_PID" 2>/dev/null || true
	"$CLUSTER" down "$C/c" >/dev/null 2>&1 || true
	rm -rf "$C"
}
trap cleanup EXIT
args="config=$C/c/etc/gpuslots.yaml record_dir=${RECORD_DIR:-$C/c/records}"
NODES=1 GPUS=4 CPUS=8 PLUGIN=gpuslots PROLOG_FLAGS= SLOTS_GRES=0 JOB_SUBMIT= \
	GPUSLOTS_SO=$BUILD/plugin/gpuslots.so PLUGIN_ARGS=$args \
	CTLD_PORT=$PORT SLURMD_PORT=$((PORT + 1)) \
	"$CLUSTER" up "$C/c" >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; exit 1; }
export SLURM_CONF=$C/c/etc/slurm.conf
# Warm up (page cache, the ledger's first open, the step settings), then trace.
for _ in 1 2 3; do srun -N1 --gpu-slots=1 true; srun -N1 true; done
pid=$(cat "$C"/c/run/slurmd.n1.pid 2>/dev/null || pgrep -o -x slurmd)
strace -ff -ttt -T -qq -s 300 -o "$TRACES/t" -p "$pid" &
STRACE_PID=$!
sleep 1 # strace attaches
for _ in $(seq "$JOBS"); do srun -N1 --gpu-slots=1 true; srun -N1 true; done
sleep 1
kill "$STRACE_PID"
wait "$STRACE_PID" 2>/dev/null || true
STRACE_PID=
python3 "$HERE/profile_summary.py" "$TRACES"
