#!/usr/bin/env bash
# cluster.sh: a throw-away, real Slurm 22.05 cluster on 127.0.0.1 for gpuslots' integration
# tests, benchmark and demo. One munged, one slurmctld and NODES `slurmd -N nX` processes, all
# state, logs, sockets and pid files under DIR. Installs nothing, touches nothing outside DIR,
# stops only the processes it started (by PID, never by name).
#
# Usage:
#   cluster.sh up DIR       configure DIR from scratch and start the cluster; returns when every
#                           node is idle. Refuses to start over a running instance in DIR, or
#                           when one of its ports is taken (another cluster?).
#   cluster.sh down DIR     cancel the jobs, stop the daemons (and any leftover slurmstepd and
#                           its tasks) by PID. Safe to repeat, safe after a failed or skipped up.
#   cluster.sh status DIR   exit 0 when the cluster in DIR runs; 77 (reason on stderr) when up
#                           was skipped; 1 otherwise.
#   cluster.sh check        exit 0 when this machine can run a cluster, 77 and the reason if not.
#
# Exit codes: 0 done; 77 Slurm cannot run here (not root, binaries missing): the reason is
# printed and kept in DIR/SKIPPED; 1 anything else (a real failure: see the logs it names).
#
# Knobs (environment variables, read by `up`; what was used is saved in DIR/cluster.env):
#   NODES=3            nodes n1..nN, each its own slurmd and port
#   GPUS=4             GPUs per node in the gpuslots config; one number for all nodes, or a
#                      comma list per node ("2,4,4": n1 has 2, n2 and n3 have 4)
#   CPUS=8             CPUs each node advertises to Slurm and has in the gpuslots config
#   MEM=1000           RealMemory (MB) each node advertises
#   PROLOG_FLAGS=Alloc value of PrologFlags= in slurm.conf; empty: leave PrologFlags unset
#   PLUGIN=gpuslots    gpuslots: load GPUSLOTS_SO with config=DIR/etc/gpuslots.yaml
#                      empty: load EMPTY_SO (job_prolog/job_epilog that do nothing)
#                      none: an empty plugstack.conf
#   GPUSLOTS_SO        the built gpuslots.so (needed for PLUGIN=gpuslots); copied into DIR/lib,
#                      with the gpuslots-core.so next to it where there is one
#   EMPTY_SO           the built empty_spank.so (needed for PLUGIN=empty); copied into DIR/lib
#   GPUSLOTS_CLI       the built gpuslots tool (optional); copied to DIR/bin, which env.sh puts
#                      on PATH
#   PROLOG_WAIT=5      slurm.prolog_wait_seconds in the gpuslots config
#   DURABILITY=full    state.durability in the gpuslots config (full, the product's default, or
#                      normal)
#   PLUGIN_ARGS        the plugin's plugstack.conf arguments (default config=DIR/etc/gpuslots.yaml
#                      record_dir=DIR/records: the job records of clusters that run side by side
#                      on one machine must not meet in /run/gpuslots, their node names and job ids
#                      are the same)
#   CTLD_PORT=16817    slurmctld's port
#   SLURMD_PORT=16818  SlurmdPort; node i listens on SLURMD_PORT+i
#   UTS=0              1: each slurmd in its own UTS namespace with hostname nX
#   GRES=0             N>0: nodes also offer Slurm's own gres gpu:N (fake device files under
#                      DIR/dev), for comparisons with Slurm's native GPU handling
#   SLOTS_GRES=1       (0 unless PLUGIN=gpuslots) 1: Slurm schedules by the slots: the count-only GRES gpuslots (each
#                      node's GPUS) and cpuslots (CPUS) in slurm.conf and gres.conf, as the
#                      README tells an admin to set up; 0: Slurm knows nothing of the slots
#   JOB_SUBMIT=lua     (empty unless PLUGIN=gpuslots) lua: JobSubmitPlugins=lua, with an etc/job_submit.lua that requires
#                      the shipped module (GPUSLOTS_LUA, copied to DIR/lib/lua) in one line, as
#                      a site's own job_submit.lua would; empty: no job_submit plugin
#   GPUSLOTS_LUA       the module gpuslots_job_submit.lua (needed for JOB_SUBMIT=lua)
#   FOLLOW=0           1 (needs GRES=GPUS): Slurm's own gres/gpu manages the GPUs and gpuslots
#                      follows it: `slurm: follow` in the config, no gpuslots GRES (cpuslots
#                      only), and job_submit.lua maps --gpu-slots to gres:gpu
#   SLURMD_TIMEOUT=60  SlurmdTimeout: how long a silent slurmd takes to be marked DOWN (a
#                      scenario that lets a node go DOWN sets it short)
#   BACKEND=sqlite     state.backend in the gpuslots config. sqlite: DIR/state/ledger.db (all
#                      nodes of the cluster run on this machine, so they share that file).
#                      mariadb: every node's prolog and epilog and the admin tool share one
#                      ledger on the MariaDB server in MARIADB_DIR, as a real cluster's nodes
#                      would; `up` drops and creates its database with `gpuslots db init`
#                      (needs GPUSLOTS_CLI). Where that server could not start (its
#                      MARIADB_DIR/unavailable says why), `up` skips (77) with the reason.
#   MARIADB_DIR        a server started by tests/support/mariadb_server.sh (its socket
#                      mysqld.sock, admin.cnf for db init, db.cnf for the writers, read.cnf for
#                      everyone's status); needed for BACKEND=mariadb
#   MARIADB_DATABASE   the ledger's database (default gt_it_<basename of DIR>: the test
#                      server's accounts are granted on gt_%)
#   CTLD_DEBUG=info SLURMD_DEBUG=info
#
# Layout of DIR: etc/ (slurm.conf, plugstack.conf, gpuslots.yaml, gres.conf), env.sh (source
# it: SLURM_CONF, GPUSLOTS_CONFIG, PATH), cluster.env (the knobs), state/ (the gpuslots
# ledger, BACKEND=sqlite), log/ (slurmctld.log, slurmd.nX.log: the plugin logs there as "gpuslots: <hook>: "),
# munge/, run/ (pid files), spool/, lib/, bin/.
#
# Example:
#   NODES=2 GPUSLOTS_SO=build/plugin/gpuslots.so GPUSLOTS_CLI=build/tools/gpuslots \
#     tests/integration/cluster.sh up /tmp/c
#   source /tmp/c/env.sh; srun -N2 --gpu-slots=1 printenv CUDA_VISIBLE_DEVICES; gpuslots status
#   tests/integration/cluster.sh down /tmp/c
set -uo pipefail

PROG=cluster.sh
SKIP=77
say() { echo "$PROG: $*"; }
die() {
	echo "$PROG: $*" >&2
	exit 1
}

# A PID that exists and is not a zombie (this machine's PID 1 reaps orphans lazily).
alive() {
	[ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null &&
		[ "$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' /proc/"$1"/status 2>/dev/null)" != Z ]
}

# Why this machine cannot run a cluster (empty when it can).
cannot_run_reason() {
	if [ "$(id -u)" != 0 ]; then
		echo "needs root (slurmd must run as root); run the integration tests as root"
		return
	fi
	local b missing=()
	for b in munged mungekey munge unmunge slurmctld slurmd slurmstepd scontrol sinfo squeue \
		srun sbatch salloc scancel ss setpriv; do
		command -v "$b" >/dev/null 2>&1 || missing+=("$b")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "missing ${missing[*]} (apt-get install slurm-wlm slurmctld slurmd munge iproute2 util-linux; .ci/install-deps does it)"
	fi
}

cmd_check() {
	local why
	why=$(cannot_run_reason)
	if [ -n "$why" ]; then
		echo "$PROG: SKIP: Slurm cannot run here: $why" >&2
		exit $SKIP
	fi
	echo "$PROG: this machine can run a test cluster"
}

# ---- down ----------------------------------------------------------------------------------

# stop_pid PIDFILE COMM: stop the daemon in PIDFILE if it is still ours.
stop_pid() {
	local pf=$1 comm=$2 pid i
	[ -f "$pf" ] || return 0
	pid=$(cat "$pf" 2>/dev/null)
	if ! alive "$pid"; then
		rm -f "$pf"
		return 0
	fi
	# A recycled PID is someone else's process: leave it alone.
	if [ "$(cat /proc/"$pid"/comm 2>/dev/null)" != "$comm" ]; then
		say "$pf: pid $pid is not $comm any more, leaving it alone"
		rm -f "$pf"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 50); do
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		say "$comm ($pid) ignored SIGTERM for 5 s, sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$pf"
	say "stopped $comm (pid $pid)"
}

# slurmstepd processes of this cluster: they hold files under DIR open (spool sockets, logs).
leftover_stepds() {
	local dir=$1 p f
	for p in /proc/[0-9]*; do
		[ "$(cat "$p"/comm 2>/dev/null)" = slurmstepd ] || continue
		for f in "$p"/fd/*; do
			case "$(readlink "$f" 2>/dev/null)" in
			"$dir"/*)
				echo "${p#/proc/}"
				break
				;;
			esac
		done
	done
}

cmd_down() {
	local dir=${1:?usage: $PROG down DIR}
	[ -d "$dir" ] || {
		say "nothing to stop: no $dir"
		return 0
	}
	dir=$(cd "$dir" && pwd)
	export SLURM_CONF=$dir/etc/slurm.conf
	local ctld i pid child jobs
	ctld=$(cat "$dir"/run/slurmctld.pid 2>/dev/null)
	if alive "$ctld" && [ -f "$SLURM_CONF" ]; then
		jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
		if [ -n "${jobs// /}" ]; then
			say "cancelling jobs $jobs"
			# shellcheck disable=SC2086
			scancel $jobs 2>/dev/null
			for i in $(seq 1 100); do
				[ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
				sleep 0.1
			done
		fi
	fi
	for pf in "$dir"/run/slurmd.*.pid; do
		[ -e "$pf" ] && stop_pid "$pf" slurmd
	done
	stop_pid "$dir"/run/slurmctld.pid slurmctld
	stop_pid "$dir"/munge/munged.pid munged
	# Only when jobs could not be cancelled: their slurmstepds, and the task process groups
	# they lead (proctrack/pgid: each task leads its own group).
	for pid in $(leftover_stepds "$dir"); do
		for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
			if [ "$(ps -o pgid= -p "$child" | tr -d ' ')" = "$child" ]; then
				say "killing leftover task process group $child"
				kill -KILL -- -"$child" 2>/dev/null
			fi
		done
		say "killing leftover slurmstepd $pid"
		kill -KILL "$pid" 2>/dev/null
	done
	# The ledger's writers' queue lives in /dev/shm until a reboot; this cluster's is no use
	# to anyone once it is down (lib/write_queue.hpp names it by user, device and inode).
	if [ -f "$dir"/state/ledger.db ]; then
		rm -f "/dev/shm/gpuslots-queue-$(id -u)-$(stat -c %d-%i "$dir"/state/ledger.db)"
	fi
	say "down ($dir)"
}

cmd_status() {
	local dir=${1:?usage: $PROG status DIR} pf
	if [ -f "$dir"/SKIPPED ]; then
		echo "$PROG: SKIP: $(cat "$dir"/SKIPPED)" >&2
		exit $SKIP
	fi
	for pf in "$dir"/run/slurmctld.pid "$dir"/munge/munged.pid; do
		alive "$(cat "$pf" 2>/dev/null)" || {
			echo "$PROG: no cluster running in $dir ($pf: not running)" >&2
			exit 1
		}
	done
	echo "$PROG: cluster running in $dir"
}

# ---- up ------------------------------------------------------------------------------------

# Why BACKEND=mariadb cannot be had (empty when it can, or when the backend is sqlite).
cannot_use_mariadb_reason() {
	[ "$BACKEND" = mariadb ] || return 0
	if [ -z "$MARIADB_DIR" ]; then
		echo "BACKEND=mariadb needs MARIADB_DIR= (a server started by tests/support/mariadb_server.sh)"
	elif [ -s "$MARIADB_DIR"/unavailable ]; then
		echo "no MariaDB server for the shared ledger: $(head -n 1 "$MARIADB_DIR"/unavailable)"
	elif [ ! -S "$MARIADB_DIR"/mysqld.sock ] || [ ! -f "$MARIADB_DIR"/admin.cnf ]; then
		echo "no MariaDB server running in $MARIADB_DIR (did its fixture mariadb.start run?)"
	elif ! command -v mariadb >/dev/null 2>&1; then
		echo "mariadb (the client) not found (apt-get install mariadb-client)"
	fi
}

# A fresh shared ledger: the cluster's database dropped and created as an admin would, with
# `gpuslots db init` (the test server's accounts gpuslots_rw and gpuslots_ro exist already).
init_mariadb_ledger() {
	{
		mariadb --defaults-file="$MARIADB_DIR"/admin.cnf \
			-e "DROP DATABASE IF EXISTS \`$MARIADB_DATABASE\`" &&
			"$DIR"/bin/gpuslots --config "$DIR"/etc/gpuslots.yaml db init \
				--admin-option-file "$MARIADB_DIR"/admin.cnf --writer gpuslots_rw \
				--reader gpuslots_ro --account-host localhost
	} >"$DIR"/log/db-init.log 2>&1
}

port_in_use() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

# gpus_of I: the GPU count of node nI from $GPUS ("4" or "2,4,4").
gpus_of() {
	local IFS=,
	# shellcheck disable=SC2206
	local list=($GPUS)
	if [ ${#list[@]} -eq 1 ]; then echo "${list[0]}"; else echo "${list[$(($1 - 1))]}"; fi
}

write_slurm_conf() {
	local host node_hostnames pfl
	host=$(hostname -s)
	if [ "$UTS" = 1 ]; then node_hostnames="n[1-$NODES]"; else node_hostnames=$host; fi
	if [ -n "$PROLOG_FLAGS" ]; then pfl="PrologFlags=$PROLOG_FLAGS"; else pfl="#PrologFlags unset"; fi
	local gres_types=() gres_line="#GresTypes unset" js_line="#JobSubmitPlugins unset"
	[ "$GRES" -gt 0 ] && gres_types+=(gpu)
	if [ "$SLOTS_GRES" = 1 ]; then
		if [ "$FOLLOW" = 1 ]; then gres_types+=(cpuslots); else gres_types+=(gpuslots cpuslots); fi
	fi
	[ ${#gres_types[@]} -gt 0 ] && gres_line="GresTypes=$(IFS=,; echo "${gres_types[*]}")"
	[ "$JOB_SUBMIT" = lua ] && js_line="JobSubmitPlugins=lua"
	cat >"$DIR"/etc/slurm.conf <<EOF
# Written by tests/integration/cluster.sh: a throw-away cluster, everything under $DIR.
ClusterName=gpuslots-it
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
$gres_line
$js_line

# A private munged: its own key and socket.
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket

StateSaveLocation=$DIR/spool/ctld
SlurmdSpoolDir=$DIR/spool/slurmd.%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.%n.log
SlurmctldDebug=$CTLD_DEBUG
SlurmdDebug=$SLURMD_DEBUG

# No cgroups and no CPU binding: nodes advertise more CPUs than the machine has.
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobContainerType=job_container/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
# Start batch jobs at the next scheduling pass (by default it may be up to 3 s later), and
# run the backfill scheduler every second: it alone starts hetjobs (every 30 s by default).
SchedulerParameters=batch_sched_delay=0,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Trust CPUs= and RealMemory= below although the machine is smaller.
SlurmdParameters=config_overrides
ReturnToService=2

# Short timers, so that tests do not wait for minutes.
KillWait=2
MessageTimeout=10
SlurmdTimeout=$SLURMD_TIMEOUT
InactiveLimit=0
MinJobAge=300
UnkillableStepTimeout=30

PlugStackConfig=$DIR/etc/plugstack.conf
MailProg=/bin/true
$pfl

# One slurmd per node, all on this host, one port each (Debian builds Slurm with
# --enable-multiple-slurmd). One line per node: their Gres counts may differ.
EOF
	local i hn gres
	for i in $(seq 1 "$NODES"); do
		gres=()
		[ "$GRES" -gt 0 ] && gres+=("gpu:$GRES")
		if [ "$SLOTS_GRES" = 1 ]; then
			[ "$FOLLOW" = 1 ] || gres+=("gpuslots:$(gpus_of "$i")")
			gres+=("cpuslots:$CPUS")
		fi
		if [ "$UTS" = 1 ]; then hn=n$i; else hn=$node_hostnames; fi
		echo "NodeName=n$i NodeHostname=$hn NodeAddr=127.0.0.1 Port=$((SLURMD_PORT + i))" \
			"CPUs=$CPUS RealMemory=$MEM${gres[*]:+ Gres=$(IFS=,; echo "${gres[*]}")} State=UNKNOWN"
	done >>"$DIR"/etc/slurm.conf
	echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP" >>"$DIR"/etc/slurm.conf
	: >"$DIR"/etc/gres.conf
	if [ "$GRES" -gt 0 ]; then
		local k
		mkdir -p "$DIR"/dev
		for k in $(seq 0 $((GRES - 1))); do mknod "$DIR"/dev/fakegpu$k c 195 "$k" || return 1; done
		echo "Name=gpu File=$DIR/dev/fakegpu[0-$((GRES - 1))]" >>"$DIR"/etc/gres.conf
	fi
	if [ "$SLOTS_GRES" = 1 ]; then
		# Count-only: no File=, so Slurm counts them and binds nothing.
		for i in $(seq 1 "$NODES"); do
			[ "$FOLLOW" = 1 ] || echo "NodeName=n$i Name=gpuslots Count=$(gpus_of "$i")"
			echo "NodeName=n$i Name=cpuslots Count=$CPUS"
		done >>"$DIR"/etc/gres.conf
	fi
	if [ "$JOB_SUBMIT" = lua ]; then
		install -d -m 0755 "$DIR"/lib/lua
		install -m 0644 "$GPUSLOTS_LUA" "$DIR"/lib/lua/gpuslots_job_submit.lua
		# What a site writes: its job_submit.lua (Slurm reads it from slurm.conf's directory)
		# calls the module. Here the module is not on Lua's default path, so say where it is.
		cat >"$DIR"/etc/job_submit.lua <<EOF
-- Written by tests/integration/cluster.sh, as a site's job_submit.lua would use gpuslots.
package.path = "$DIR/lib/lua/?.lua;" .. package.path
local gpuslots = require("gpuslots_job_submit")
$([ "$FOLLOW" = 1 ] && echo 'gpuslots.settings.gpu_gres = "gpu"  -- Slurm'"'"'s gres/gpu picks the GPUs')

function slurm_job_submit(job_desc, part_list, submit_uid)
	return gpuslots.job_submit(job_desc, part_list, submit_uid)
end

function slurm_job_modify(job_desc, job_rec, part_list, modify_uid)
	return gpuslots.job_modify(job_desc, job_rec, part_list, modify_uid)
end

return slurm.SUCCESS
EOF
	fi
}

write_gpuslots_conf() {
	local i
	{
		echo "# Written by tests/integration/cluster.sh (see etc/gpuslots.yaml for every key)."
		echo "servers:"
		local mode=none
		[ "$SLOTS_GRES" = 1 ] && mode=slots
		[ "$FOLLOW" = 1 ] && mode=follow
		if [[ "$GPUS" != *,* ]]; then
			# One hostlist entry, as a site would write it.
			printf '  - name: n[1-%s]\n    gpus: %s\n    cpus: %s\n    slurm: %s\n' "$NODES" "$GPUS" "$CPUS" "$mode"
		else
			for i in $(seq 1 "$NODES"); do
				printf '  - name: n%s\n    gpus: %s\n    cpus: %s\n    slurm: %s\n' "$i" "$(gpus_of "$i")" "$CPUS" "$mode"
			done
		fi
		echo "state:"
		if [ "$BACKEND" = mariadb ]; then
			echo "  backend: mariadb"
			echo "  mariadb:"
			echo "    socket: $MARIADB_DIR/mysqld.sock"
			echo "    database: $MARIADB_DATABASE"
			echo "    option_file: $MARIADB_DIR/db.cnf"
			echo "    read_option_file: $MARIADB_DIR/read.cnf"
		else
			echo "  path: $DIR/state/ledger.db"
			echo "  durability: $DURABILITY"
		fi
		echo "slurm:"
		echo "  prolog_wait_seconds: $PROLOG_WAIT"
	} >"$DIR"/etc/gpuslots.yaml
	chmod 0644 "$DIR"/etc/gpuslots.yaml
}

write_plugstack() {
	case "$PLUGIN" in
	gpuslots)
		install -m 0755 "$GPUSLOTS_SO" "$DIR"/lib/gpuslots.so
		# The core next to it (a plugin from before the core was split off has none).
		if [ -f "$(dirname "$GPUSLOTS_SO")"/gpuslots-core.so ]; then
			install -m 0755 "$(dirname "$GPUSLOTS_SO")"/gpuslots-core.so "$DIR"/lib/gpuslots-core.so
		fi
		echo "required $DIR/lib/gpuslots.so ${PLUGIN_ARGS-config=$DIR/etc/gpuslots.yaml record_dir=$DIR/records}" \
			>"$DIR"/etc/plugstack.conf
		;;
	empty)
		install -m 0755 "$EMPTY_SO" "$DIR"/lib/empty_spank.so
		echo "required $DIR/lib/empty_spank.so" >"$DIR"/etc/plugstack.conf
		;;
	none) echo "# no SPANK plugin" >"$DIR"/etc/plugstack.conf ;;
	esac
}

# The end of every daemon log, for a failed up.
show_logs() {
	local f
	for f in "$1"/munge/munged.log "$1"/log/*.log; do
		[ -s "$f" ] || continue
		echo "---- last lines of $f"
		tail -n 15 "$f"
	done
}

# wait_for SECONDS WHAT COMMAND...: poll COMMAND until it succeeds.
wait_for() {
	local secs=$1 what=$2 end=$((SECONDS + $1))
	shift 2
	until "$@"; do
		[ $SECONDS -lt $end ] || die "timed out after $secs s waiting for $what"
		sleep 0.1
	done
}

# A daemon that logged "fatal:" will not come up: say so at once instead of timing out.
no_fatal() {
	local f
	for f in "$@"; do
		if grep -q "fatal:" "$f" 2>/dev/null; then die "$(grep -m1 "fatal:" "$f") (in $f)"; fi
	done
}
munge_ok() { munge -S "$DIR"/munge/munge.socket -n 2>/dev/null | unmunge -S "$DIR"/munge/munge.socket >/dev/null 2>&1; }
ctld_up() {
	no_fatal "$DIR"/log/slurmctld.log
	scontrol ping 2>/dev/null | grep -q "is UP"
}
nodes_idle() {
	no_fatal "$DIR"/log/slurmctld.log "$DIR"/log/slurmd.*.log
	[ "$(sinfo -h -N -o '%t' 2>/dev/null | sort -u | tr '\n' ' ')" = "idle " ]
}

cmd_up() {
	DIR=${1:?usage: $PROG up DIR}
	NODES=${NODES:-3}
	GPUS=${GPUS:-4}
	CPUS=${CPUS:-8}
	MEM=${MEM:-1000}
	PROLOG_FLAGS=${PROLOG_FLAGS-Alloc}
	PLUGIN=${PLUGIN:-gpuslots}
	PROLOG_WAIT=${PROLOG_WAIT:-5}
	DURABILITY=${DURABILITY:-full}
	CTLD_PORT=${CTLD_PORT:-16817}
	SLURMD_PORT=${SLURMD_PORT:-16818}
	UTS=${UTS:-0}
	GRES=${GRES:-0}
	# Slurm schedules by the slots wherever gpuslots is loaded, as the README sets it up.
	local slots_default=0 js_default=""
	[ "$PLUGIN" = gpuslots ] && slots_default=1 js_default=lua
	SLOTS_GRES=${SLOTS_GRES:-$slots_default}
	FOLLOW=${FOLLOW:-0}
	JOB_SUBMIT=${JOB_SUBMIT-$js_default}
	CTLD_DEBUG=${CTLD_DEBUG:-info}
	SLURMD_DEBUG=${SLURMD_DEBUG:-info}
	SLURMD_TIMEOUT=${SLURMD_TIMEOUT:-60}
	BACKEND=${BACKEND:-sqlite}
	MARIADB_DIR=${MARIADB_DIR:-}
	MARIADB_DATABASE=${MARIADB_DATABASE:-gt_it_$(basename "$DIR" | tr -c 'A-Za-z0-9_\n' _)}

	local why what="Slurm cannot run here: "
	why=$(cannot_run_reason)
	[ -n "$why" ] || { why=$(cannot_use_mariadb_reason) && what=""; }
	if [ -n "$why" ]; then
		# Kept for `status` (and so for the scenarios), where DIR can be written.
		mkdir -p "$DIR" 2>/dev/null && echo "$why" >"$DIR"/SKIPPED 2>/dev/null
		echo "$PROG: SKIP: $what$why" >&2
		exit $SKIP
	fi
	mkdir -p "$DIR" || die "cannot create $DIR"
	DIR=$(cd "$DIR" && pwd)
	rm -f "$DIR"/SKIPPED

	# Refuse to start over a running instance (and its ledger).
	local pf
	for pf in "$DIR"/run/*.pid "$DIR"/munge/munged.pid; do
		[ -f "$pf" ] || continue
		if alive "$(cat "$pf")"; then
			die "a cluster is already running in $DIR ($pf: pid $(cat "$pf")); run '$0 down $DIR' first"
		fi
	done

	# Knobs, checked before anything starts.
	[[ "$NODES" =~ ^[1-9][0-9]*$ ]] || die "NODES=$NODES: expected a positive number"
	[[ "$CPUS" =~ ^[1-9][0-9]*$ ]] || die "CPUS=$CPUS: expected a positive number"
	[[ "$GPUS" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "GPUS=$GPUS: expected N or N,N,... (one per node)"
	local ngpus
	ngpus=$(echo "$GPUS" | tr ',' '\n' | wc -l)
	[ "$ngpus" = 1 ] || [ "$ngpus" = "$NODES" ] || die "GPUS=$GPUS: give one number, or one per node ($NODES)"
	[[ "$PROLOG_WAIT" =~ ^[0-9]+$ ]] || die "PROLOG_WAIT=$PROLOG_WAIT: expected seconds"
	[[ "$DURABILITY" =~ ^(full|normal)$ ]] || die "DURABILITY=$DURABILITY: expected full or normal"
	[[ "$GRES" =~ ^[0-9]+$ ]] || die "GRES=$GRES: expected a number"
	[[ "$SLURMD_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "SLURMD_TIMEOUT=$SLURMD_TIMEOUT: expected seconds"
	[[ "$SLOTS_GRES" =~ ^[01]$ ]] || die "SLOTS_GRES=$SLOTS_GRES: expected 0 or 1"
	[[ "$FOLLOW" =~ ^[01]$ ]] || die "FOLLOW=$FOLLOW: expected 0 or 1"
	[[ "$BACKEND" =~ ^(sqlite|mariadb)$ ]] || die "BACKEND=$BACKEND: expected sqlite or mariadb"
	if [ "$BACKEND" = mariadb ]; then
		[[ "$MARIADB_DATABASE" =~ ^[A-Za-z0-9_]+$ ]] || die "MARIADB_DATABASE=$MARIADB_DATABASE: letters, digits and '_' only"
		[ -n "${GPUSLOTS_CLI:-}" ] || die "BACKEND=mariadb needs GPUSLOTS_CLI=<built gpuslots> (for 'gpuslots db init')"
		MARIADB_DIR=$(cd "$MARIADB_DIR" && pwd)
	fi
	if [ "$FOLLOW" = 1 ] && { [ "$GRES" != "$GPUS" ] || [ "$SLOTS_GRES" != 1 ]; }; then
		die "FOLLOW=1 needs GRES=GPUS (Slurm's gres/gpu manages the GPUs) and SLOTS_GRES=1"
	fi
	case "$JOB_SUBMIT" in
	lua) [ -f "${GPUSLOTS_LUA:-}" ] || die "JOB_SUBMIT=lua needs GPUSLOTS_LUA=<gpuslots_job_submit.lua> (got '${GPUSLOTS_LUA:-}')" ;;
	"") ;;
	*) die "JOB_SUBMIT=$JOB_SUBMIT: expected lua or empty" ;;
	esac
	case "$PLUGIN" in
	gpuslots) [ -f "${GPUSLOTS_SO:-}" ] || die "PLUGIN=gpuslots needs GPUSLOTS_SO=<built gpuslots.so> (got '${GPUSLOTS_SO:-}')" ;;
	empty) [ -f "${EMPTY_SO:-}" ] || die "PLUGIN=empty needs EMPTY_SO=<built empty_spank.so> (got '${EMPTY_SO:-}')" ;;
	none) ;;
	*) die "PLUGIN=$PLUGIN: expected gpuslots, empty or none" ;;
	esac
	[ "$UTS" = 0 ] || command -v unshare >/dev/null || die "UTS=1 needs unshare (util-linux)"

	# Refuse to start next to another cluster on our ports.
	local p
	for p in "$CTLD_PORT" $(seq $((SLURMD_PORT + 1)) $((SLURMD_PORT + NODES))); do
		if port_in_use "$p"; then
			die "port $p is already in use (another cluster?); choose others with CTLD_PORT= / SLURMD_PORT="
		fi
	done
	# Unix socket paths are limited to 108 bytes; slurmd's step sockets are the longest.
	local longest="$DIR/spool/slurmd.n$NODES/n${NODES}_4294967294.4294967294"
	[ ${#longest} -lt 108 ] || die "$DIR is too long a path for Slurm's sockets (${#longest} >= 108 bytes); use a shorter DIR"

	rm -rf "$DIR"/etc "$DIR"/run "$DIR"/log "$DIR"/spool "$DIR"/munge "$DIR"/lib "$DIR"/bin \
		"$DIR"/state "$DIR"/dev "$DIR"/env.sh "$DIR"/cluster.env
	mkdir -p "$DIR"/etc "$DIR"/run "$DIR"/log "$DIR"/spool/ctld "$DIR"/lib "$DIR"/bin || die "cannot write $DIR"
	# Everyone must reach the munge socket, the configs and the ledger (jobs of other users,
	# `gpuslots status` as any user); munged insists on a 0755 socket directory.
	chmod 0755 "$DIR" "$DIR"/etc "$DIR"/lib "$DIR"/bin
	install -d -m 0755 "$DIR"/munge "$DIR"/state

	local t0=$SECONDS
	# From here on, a failure stops whatever this run started.
	trap 'rc=$?; if [ $rc != 0 ]; then echo "$PROG: up failed, stopping what was started" >&2; show_logs "$DIR" >&2; cmd_down "$DIR" >&2; fi' EXIT

	write_slurm_conf || die "cannot write slurm.conf"
	write_gpuslots_conf
	write_plugstack
	if [ -n "${GPUSLOTS_CLI:-}" ]; then
		[ -x "$GPUSLOTS_CLI" ] || die "GPUSLOTS_CLI=$GPUSLOTS_CLI is not executable"
		install -m 0755 "$GPUSLOTS_CLI" "$DIR"/bin/gpuslots
	fi
	if [ "$BACKEND" = mariadb ]; then
		init_mariadb_ledger || die "cannot create the ledger's database $MARIADB_DATABASE: $(tail -n 3 "$DIR"/log/db-init.log)"
	fi
	cat >"$DIR"/env.sh <<EOF
# source this file to use the cluster in $DIR
export SLURM_CONF=$DIR/etc/slurm.conf
export GPUSLOTS_CONFIG=$DIR/etc/gpuslots.yaml
export PATH=$DIR/bin:\$PATH
EOF
	cat >"$DIR"/cluster.env <<EOF
NODES=$NODES
GPUS=$GPUS
CPUS=$CPUS
PROLOG_FLAGS=$PROLOG_FLAGS
PLUGIN=$PLUGIN
PROLOG_WAIT=$PROLOG_WAIT
DURABILITY=$DURABILITY
CTLD_PORT=$CTLD_PORT
SLURMD_PORT=$SLURMD_PORT
UTS=$UTS
GRES=$GRES
SLOTS_GRES=$SLOTS_GRES
JOB_SUBMIT=$JOB_SUBMIT
FOLLOW=$FOLLOW
SLURMD_TIMEOUT=$SLURMD_TIMEOUT
BACKEND=$BACKEND
MARIADB_DIR=$MARIADB_DIR
MARIADB_DATABASE=$MARIADB_DATABASE
EOF
	export SLURM_CONF=$DIR/etc/slurm.conf

	mungekey -c -k "$DIR"/munge/munge.key || die "mungekey failed"
	munged --key-file="$DIR"/munge/munge.key --socket="$DIR"/munge/munge.socket \
		--pid-file="$DIR"/munge/munged.pid --log-file="$DIR"/munge/munged.log \
		--seed-file="$DIR"/munge/munged.seed --num-threads=10 ||
		die "munged did not start (see $DIR/munge/munged.log)"
	wait_for 10 "munged (see $DIR/munge/munged.log)" munge_ok

	slurmctld -f "$SLURM_CONF" || die "slurmctld did not start (see $DIR/log/slurmctld.log)"
	wait_for 30 "slurmctld (see $DIR/log/slurmctld.log)" ctld_up

	local i
	for i in $(seq 1 "$NODES"); do
		mkdir -p "$DIR/spool/slurmd.n$i"
		if [ "$UTS" = 1 ]; then
			# slurmd daemonizes; its slurmstepds stay in the namespace.
			unshare --uts sh -c "hostname n$i && exec slurmd -f '$SLURM_CONF' -N n$i" ||
				die "slurmd n$i did not start (see $DIR/log/slurmd.n$i.log)"
		else
			slurmd -f "$SLURM_CONF" -N "n$i" || die "slurmd n$i did not start (see $DIR/log/slurmd.n$i.log)"
		fi
	done
	wait_for 60 "all nodes idle (see $DIR/log/slurmd.*.log)" nodes_idle
	trap - EXIT

	say "cluster up in $DIR in $((SECONDS - t0)) s: $NODES node(s), GPUS=$GPUS, CPUS=$CPUS," \
		"PrologFlags=${PROLOG_FLAGS:-(unset)}, PLUGIN=$PLUGIN, ports $CTLD_PORT, $((SLURMD_PORT + 1))-$((SLURMD_PORT + NODES))"
	say "use it with: source $DIR/env.sh"
}

case "${1:-}" in
up) cmd_up "${2:-}" ;;
down) cmd_down "${2:-}" ;;
status) cmd_status "${2:-}" ;;
check) cmd_check ;;
*)
	sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
	;;
esac
