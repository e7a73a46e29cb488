# lib.sh: what the integration scenarios share (sourced by run.sh, not run on its own).
#
# A scenario runs against a cluster that cluster.sh started in CLUSTER_DIR. it_begin checks that
# the cluster is there (or exits 77 with the reason when Slurm cannot run here), leaves the
# cluster quiet (no jobs, every node idle, empty ledger) and makes a fresh work dir W. On exit,
# it_end stops the client processes the scenario started, restores the gpuslots config if the
# scenario changed it, and on failure prints the logs of the scenario's time span.
#
# Synchronisation is by polling a condition with a bounded wait (wait_until / poll_until); a
# job that must stay running waits for a file the scenario creates (release_job).

IT_SKIP=77
IT_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
declare -A BG_PID=() BG_RC=() LOG_OFFSET=()
CONF_BACKUP=""
# Commands it_end runs before anything else, also when the scenario fails: what a scenario must
# put back whatever happens (e.g. a database server it stopped).
IT_AT_END=()

# Seconds since the scenario began, e.g. 3.4.
elapsed() {
	local now=${EPOCHREALTIME/./}
	printf '%d.%d' $(((now - ${IT_T0US:-$now}) / 1000000)) $(((now - ${IT_T0US:-$now}) / 100000 % 10))
}
note() { echo "  [$(elapsed)s] $*"; }
ok() { echo "ok [$(elapsed)s]: $*"; }
# Also from inside $(...): the subshell tells the scenario's shell, which then ends.
fail() {
	echo "FAIL: $*" >&2
	[ "$BASHPID" = "$$" ] || kill -USR1 $$
	exit 1
}
skip() {
	echo "SKIP: $*" >&2
	exit $IT_SKIP
}

# A PID that exists and is not a zombie.
alive() {
	[ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null &&
		[ "$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' /proc/"$1"/status 2>/dev/null)" != Z ]
}

# poll_until SECONDS COMMAND...: 0 as soon as COMMAND succeeds, 1 when SECONDS have passed.
poll_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

# wait_until SECONDS WHAT COMMAND...: like poll_until, but the scenario fails on the timeout.
wait_until() {
	local secs=$1 what=$2
	shift 2
	poll_until "$secs" "$@" || fail "timed out after $secs s waiting for $what"
}

expect_eq() { # ACTUAL EXPECTED WHAT
	[ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}
expect_grep() { # FILE EXTENDED_REGEX WHAT
	grep -Eq -- "$2" "$1" || fail "$3: /$2/ not found in $1: $(head -c 600 "$1")"
}
expect_no_grep() { # FILE EXTENDED_REGEX WHAT
	if grep -Eq -- "$2" "$1"; then fail "$3: /$2/ found in $1: $(grep -E -m3 -- "$2" "$1")"; fi
}

# Every Slurm client call in a scenario is bounded: a hung command must not outlast the
# scenario's own deadline. (bg and as_nobody exec the real commands; they are polled.)
for _cmd in srun sbatch salloc scancel scontrol squeue sinfo; do
	eval "$_cmd() { timeout 60 $_cmd \"\$@\"; }"
done
unset _cmd

as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
cli() { "$CLI" --config "$GPUSLOTS_CONFIG" "$@"; }

# ---- client processes (srun, salloc) in the background --------------------------------------

# bg NAME COMMAND...: run COMMAND in the background (in $BG_CWD if set), stdout and stderr to
# $W/NAME.out and $W/NAME.err.
bg() {
	local name=$1
	shift
	(
		cd "${BG_CWD:-$W}" || exit 1
		exec "$@"
	) </dev/null >"$W/$name.out" 2>"$W/$name.err" &
	BG_PID[$name]=$!
}
# bg_wait NAME SECONDS: wait for it to end; its exit status goes to BG_RC[NAME].
bg_wait() {
	local name=$1 pid=${BG_PID[$1]}
	poll_until "$2" eval '! alive '"$pid" ||
		fail "$name (pid $pid) still running after $2 s: $(tail -n 5 "$W/$name.err")"
	wait "$pid"
	BG_RC[$name]=$?
	unset "BG_PID[$name]"
}

# ---- jobs ----------------------------------------------------------------------------------

job_field() { # JOB FIELD
	scontrol -o show job "$1" 2>/dev/null | grep -o " $2=[^ ]*" | head -1 | cut -d= -f2-
}
job_state() { job_field "$1" JobState; }
job_ended() {
	case "$(job_state "$1")" in
	COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED) return 0 ;;
	*) return 1 ;;
	esac
}
job_state_is() { [ "$(job_state "$1")" = "$2" ]; }
wait_job_state() { # JOB STATE SECONDS
	poll_until "$3" job_state_is "$1" "$2" ||
		fail "job $1 is $(job_state "$1") ($(job_field "$1" Reason)), expected $2 within $3 s"
}
wait_job_ended() { # JOB SECONDS
	poll_until "$2" job_ended "$1" || fail "job $1 still $(job_state "$1") after $2 s"
}
# Every job id slurmctld knows (finished jobs stay for MinJobAge=300 s).
all_job_ids() { scontrol -o show job 2>/dev/null | grep -o '^JobId=[0-9]*' | cut -d= -f2 | sort -n | tr '\n' ' '; }

# The report script: what a task (or batch script) sees. `report LABEL hold` keeps running
# until the scenario calls release_job.
make_report_script() {
	cat >"$W"/report <<EOF
#!/bin/bash
printf 'REPORT label=%s job=%s node=%s task=%s user=%s cvd=%s rocr=%s ze=%s gdo=%s\n' \\
	"\${1:-}" "\${SLURM_JOB_ID:-}" "\${SLURMD_NODENAME:-}" "\${SLURM_PROCID:-0}" "\$(id -un)" \\
	"\${CUDA_VISIBLE_DEVICES-UNSET}" "\${ROCR_VISIBLE_DEVICES-UNSET}" \\
	"\${ZE_AFFINITY_MASK-UNSET}" "\${GPU_DEVICE_ORDINAL-UNSET}"
if [ "\${2:-}" = hold ]; then
	for i in \$(seq 1 1800); do
		[ -e "$W/go.\$SLURM_JOB_ID" ] && exit 0
		sleep 0.1
	done
	echo "report: job \$SLURM_JOB_ID was not released within 180 s" >&2
	exit 3
fi
EOF
	chmod 0755 "$W"/report
}
release_job() { touch "$W/go.$1"; }

reports() { grep -h '^REPORT ' "$@" 2>/dev/null; }
report_count() { reports "$1" | wc -l; }
has_reports() { [ "$(report_count "$1")" -ge "$2" ]; }
field() { # LINE KEY
	sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"
}
# wait_reports FILE COUNT SECONDS: wait for COUNT report lines; prints the job id of the first.
wait_reports() {
	poll_until "$3" has_reports "$1" "$2" ||
		fail "expected $2 REPORT line(s) in $1 within $3 s, got $(report_count "$1"): $(cat "$1" "${1%.out}.err" 2>/dev/null | head -c 800)"
	field "$(reports "$1" | head -1)" job
}

# ---- the ledger, through the admin tool ------------------------------------------------------

# --no-slurm: the scenarios poll the ledger often; asking slurmctld each time would only slow them.
status_json() { cli status --json --no-slurm || fail "gpuslots status --json failed"; }
# query QUERY [ARG...]: one answer from `gpuslots status --json` (see status_query.py).
query() { status_json | python3 "$IT_HERE"/status_query.py "$@"; }
# ledger_gpus NODE JOB: the GPUs that Slurm job JOB holds on NODE ("0,1"), or NONE.
ledger_gpus() { query gpus "$1" "$2"; }
ledger_cpus() { query cpus "$1" "$2"; }
# ledger_nodes JOB: the nodes where JOB holds a reservation, space separated.
ledger_nodes() { query nodes "$1"; }
ledger_task_count() { query tasks; }
ledger_has() { [ "$(ledger_gpus "$2" "$1")" != NONE ]; }
ledger_clear_of() { [ -z "$(ledger_nodes "$1")" ]; }
wait_ledger_has() { # JOB NODE SECONDS
	poll_until "$3" ledger_has "$1" "$2" || fail "job $1 has no reservation on $2 after $3 s"
}
wait_ledger_clear() { # JOB SECONDS
	poll_until "$2" ledger_clear_of "$1" ||
		fail "job $1 still holds a reservation on $(ledger_nodes "$1") $2 s after it ended (epilog?)"
	no_refusal_left "$1"
}
# The ledger's own invariants, seen from outside: no GPU index held twice on a server, and
# free + held = total.
ledger_consistent() {
	local bad
	bad=$(query inconsistent)
	[ -z "$bad" ] || fail "ledger inconsistent on $bad: $(status_json)"
}
# A refusal is kept in the ledger from the prolog to the epilog. The admin tool does not show
# refusals, so read the ledger's table: with sqlite3 where it is installed (read-only), or
# with the mariadb client as the database's admin (BACKEND=mariadb).
# ledger_query SQL: one answer from the ledger's own tables.
ledger_query() {
	if [ "${BACKEND:-sqlite}" = mariadb ]; then
		mariadb --defaults-file="$MARIADB_DIR"/admin.cnf -N -B "$MARIADB_DATABASE" -e "$1" 2>&1
	else
		sqlite3 -readonly "file:$CLUSTER_DIR/state/ledger.db?mode=ro" "$1" 2>&1
	fi
}
refusal_count() {
	local n
	n=$(ledger_query "SELECT count(*) FROM refusals WHERE task_id = '$1'")
	[[ "$n" =~ ^[0-9]+$ ]] || fail "cannot read the ledger's refusals (${BACKEND:-sqlite}; schema changed?): $n"
	echo "$n"
}
no_refusal_left() {
	if [ "${BACKEND:-sqlite}" != mariadb ]; then
		command -v sqlite3 >/dev/null || return 0
		[ -f "$CLUSTER_DIR/state/ledger.db" ] || return 0
	fi
	poll_until 10 eval '[ "$(refusal_count "'"$1"'")" = 0 ]' ||
		fail "the ledger still has a refusal record for job $1 after its epilog"
}

# ---- nodes -----------------------------------------------------------------------------------

drained_nodes() { sinfo -h -R -o '%N: %E' 2>/dev/null; }
assert_no_drain() {
	local d
	d=$(drained_nodes)
	[ -z "$d" ] || fail "node(s) drained: $d"
}
nodes_idle() { [ "$(sinfo -h -N -o '%t' 2>/dev/null | sort -u | tr '\n' ' ')" = "idle " ]; }
node_state() { sinfo -h -N -n "$1" -o '%t' 2>/dev/null | head -1; }

# ---- the gpuslots config, changed for one scenario and restored at its end -------------------

# The backup lives next to the cluster, not in W: should a scenario be killed before it
# restores the config, the next one finds the backup and restores it (it_begin).
conf_backup() {
	[ -n "$CONF_BACKUP" ] && return
	CONF_BACKUP=$CLUSTER_DIR/gpuslots.yaml.orig
	cp -p "$GPUSLOTS_CONFIG" "$CONF_BACKUP" || fail "cannot back up $GPUSLOTS_CONFIG"
}
conf_restore() {
	[ -n "$CONF_BACKUP" ] || return 0
	cp -p "$CONF_BACKUP" "$GPUSLOTS_CONFIG.tmp" && mv "$GPUSLOTS_CONFIG.tmp" "$GPUSLOTS_CONFIG" &&
		rm -f "$CONF_BACKUP"
	CONF_BACKUP=""
}
# conf_set_prolog_wait SECONDS (atomic: hooks read the file at any moment)
conf_set_prolog_wait() {
	conf_backup
	sed "s/^\([[:space:]]*prolog_wait_seconds:\).*/\1 $1/" "$GPUSLOTS_CONFIG" >"$GPUSLOTS_CONFIG.tmp" &&
		mv "$GPUSLOTS_CONFIG.tmp" "$GPUSLOTS_CONFIG"
	grep -q "prolog_wait_seconds: $1\$" "$GPUSLOTS_CONFIG" || fail "could not set prolog_wait_seconds"
}

# conf_unscheduled NODE FILE: a copy of the config in which Slurm does not schedule NODE
# ('slurm: none'), for booking slots behind Slurm's back: with it, `gpuslots allocate` books
# in the ledger only, as on a server Slurm does not manage.
conf_unscheduled() {
	python3 - "$GPUSLOTS_CONFIG" "$1" "$2" <<-'EOF' || fail "cannot write a config with $1 unscheduled"
		import sys
		text, node, out = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
		entry = "  - name: %s\n" % node
		at = text.index(entry)  # cluster.sh writes one entry per node when their GPUs differ
		end = text.index("slurm: slots", at)
		open(out, "w").write(text[:end] + "slurm: none" + text[end + len("slurm: slots"):])
	EOF
}

# book_n1_behind_slurm TASK: all of n1's GPUs booked by hand where Slurm cannot see it (with
# a config in which Slurm does not schedule n1: the ledger only, no holder job).
# release_behind_slurm TASK releases it the same way.
book_n1_behind_slurm() {
	[ -f "$W"/unscheduled.yaml ] || conf_unscheduled n1 "$W"/unscheduled.yaml
	"$CLI" --config "$W"/unscheduled.yaml allocate "$1" "$(query gpus_total n1)" 0 --server n1 \
		>"$W/allocate-$1.out" 2>&1 || fail "gpuslots allocate $1 failed: $(cat "$W/allocate-$1.out")"
	[ -z "$(squeue -h -n "gpuslots-hold:$1" -o %i)" ] || fail "booking $1 behind Slurm's back started a holder job"
}
release_behind_slurm() {
	"$CLI" --config "$W"/unscheduled.yaml release "$1" >"$W/release-$1.out" 2>&1 ||
		fail "gpuslots release $1 failed: $(cat "$W/release-$1.out")"
}

# ---- begin and end -------------------------------------------------------------------------

# Leave the cluster as a scenario expects it. Anything found here is left over from an earlier
# scenario that failed: clean it up, say so, and go on.
it_quiesce() {
	local jobs d
	if [ -f "$CLUSTER_DIR"/gpuslots.yaml.orig ]; then
		note "left over from an earlier scenario: a changed gpuslots config; restoring it"
		CONF_BACKUP=$CLUSTER_DIR/gpuslots.yaml.orig
		conf_restore
	fi
	if [ "${BACKEND:-sqlite}" = mariadb ] && [ ! -S "$MARIADB_DIR"/mysqld.sock ] && [ -d "$MARIADB_DIR"/data ]; then
		note "left over from an earlier scenario: the ledger's database server stopped; starting it again"
		sh "$IT_HERE"/../support/mariadb_server.sh resume "$MARIADB_DIR" || fail "cannot start the database server in $MARIADB_DIR again"
	fi
	jobs=$(squeue -h -o %i | tr '\n' ' ')
	if [ -n "${jobs// /}" ]; then
		note "left over from an earlier scenario: jobs $jobs; cancelling them"
		# shellcheck disable=SC2086
		scancel $jobs
	fi
	poll_until 60 eval '[ -z "$(squeue -h -o %i)" ]' || fail "jobs still there: $(squeue -h)"
	d=$(drained_nodes)
	if [ -n "$d" ]; then
		note "left over from an earlier scenario: drained node(s) $d; resuming them"
		scontrol update nodename=ALL state=resume 2>/dev/null
	fi
	wait_until 60 "every node idle (now: $(sinfo -h -N -o '%N=%t' | tr '\n' ' '))" nodes_idle
	if [ "$(ledger_task_count)" != 0 ]; then
		note "left over from an earlier scenario: reservations $(cli status | tail -n +2 | tr -s ' ' | tr '\n' ';'); resetting"
		cli reset --yes >/dev/null || fail "gpuslots reset failed"
	fi
}

# it_begin CLUSTER_DIR SCENARIO
it_begin() {
	CLUSTER_DIR=$1
	IT_NAME=$2
	local why rc
	why=$("$IT_HERE"/cluster.sh check 2>&1 >/dev/null)
	[ -z "$why" ] || skip "${why#cluster.sh: SKIP: }"
	why=$("$IT_HERE"/cluster.sh status "$CLUSTER_DIR" 2>&1 >/dev/null)
	rc=$?
	[ $rc = $IT_SKIP ] && skip "${why#cluster.sh: SKIP: }"
	[ $rc = 0 ] || fail "$why (did its integration.*.up test fail?)"
	# shellcheck disable=SC1091
	source "$CLUSTER_DIR"/env.sh
	# shellcheck disable=SC1091
	source "$CLUSTER_DIR"/cluster.env
	CLI=$CLUSTER_DIR/bin/gpuslots
	command -v python3 >/dev/null || fail "python3 is needed to read 'gpuslots status --json'"
	W=$CLUSTER_DIR/tests/$IT_NAME
	rm -rf "$W"
	mkdir -p "$W" && chmod 0755 "$CLUSTER_DIR"/tests "$W" || fail "cannot create $W"
	local f
	for f in "$CLUSTER_DIR"/log/*.log; do LOG_OFFSET[$f]=$(stat -c %s "$f"); done
	IT_T0=$SECONDS
	IT_T0US=${EPOCHREALTIME/./}
	trap it_end EXIT
	trap 'exit 1' USR1
	# Fail (with diagnostics) before CTest's TIMEOUT kills the scenario (without any).
	IT_TIMEOUT=${IT_TIMEOUT:-110}
	trap 'fail "still running after $IT_TIMEOUT s; stopping it before CTest kills it"' USR2
	(
		trap 'kill $sleeper 2>/dev/null; exit 0' TERM
		sleep "$IT_TIMEOUT" &
		sleeper=$!
		wait $sleeper && kill -USR2 $$
	) &
	IT_WATCHDOG=$!
	echo "== $IT_NAME on $CLUSTER_DIR (PrologFlags=${PROLOG_FLAGS:-unset}, GPUS=$GPUS, NODES=$NODES)"
	[ "$PLUGIN" = gpuslots ] || return 0
	it_quiesce
	make_report_script
}

# The logs of this scenario's time span, the jobs, the nodes and the ledger.
it_dump() {
	local f
	echo "==== diagnostics: $IT_NAME ($CLUSTER_DIR) ===="
	echo "-- squeue -t all (last 15)"
	squeue -t all -o '%.6i %.12j %.10T %.22r %N' 2>&1 | tail -n 15
	echo "-- sinfo"
	sinfo -N -o '%N %t %E' 2>&1
	echo "-- gpuslots status"
	cli status 2>&1
	for f in "$W"/*.out "$W"/*.err; do
		[ -s "$f" ] || continue
		echo "-- $f"
		head -c 1500 "$f"
	done
	for f in "$CLUSTER_DIR"/log/*.log; do
		echo "-- $f (this scenario, last 30 lines)"
		tail -c +$((${LOG_OFFSET[$f]:-0} + 1)) "$f" | tail -n 30
	done
	echo "-- gpuslots lines in the slurmd logs (this scenario, last 60)"
	for f in "$CLUSTER_DIR"/log/slurmd.*.log; do
		tail -c +$((${LOG_OFFSET[$f]:-0} + 1)) "$f" | grep "gpuslots" | sed "s|^|$(basename "$f"): |"
	done | sort -t' ' -k2 | tail -n 60
	echo "==== end of diagnostics ===="
}

it_end() {
	local rc=$? name pid
	trap - EXIT USR2
	[ -n "${IT_WATCHDOG:-}" ] && kill "$IT_WATCHDOG" 2>/dev/null
	local at_end
	for at_end in "${IT_AT_END[@]}"; do $at_end; done
	for name in "${!BG_PID[@]}"; do
		pid=${BG_PID[$name]}
		alive "$pid" && kill -TERM "$pid" 2>/dev/null
	done
	conf_restore
	if [ $rc = 0 ]; then
		echo "PASS: $IT_NAME ($(elapsed) s)"
	elif [ $rc != $IT_SKIP ]; then
		it_dump >&2
		echo "FAILED: $IT_NAME ($(elapsed) s)" >&2
	fi
	exit $rc
}

# ---- what jobs saw, against the ledger -------------------------------------------------------

# check_reports FILE...: each REPORT line saw exactly the GPUs that the ledger holds for its
# job on its node, in every variable the plugin sets. Call while the jobs still run.
check_reports() {
	local line j n want v count=0
	while read -r line; do
		j=$(field "$line" job)
		n=$(field "$line" node)
		want=$(ledger_gpus "$n" "$j")
		[ "$want" != NONE ] || fail "job $j runs on $n, but the ledger has nothing for it there: $line"
		for v in cvd rocr ze gdo; do
			expect_eq "$(field "$line" $v)" "$want" "job $j on $n ($(field "$line" label)): $v"
		done
		count=$((count + 1))
	done < <(reports "$@")
	[ $count -gt 0 ] || fail "no REPORT lines in $*"
	ledger_consistent
}
# gpu_count LIST: how many indices in "0,2,3" ("" has none).
gpu_count() { if [ -z "$1" ]; then echo 0; else tr ',' '\n' <<<"$1" | wc -l; fi; }

# expect_refusal FILE JOB NODE WAIT: FILE has the message of a job refused after waiting WAIT
# seconds for slots on NODE: "gpuslots: job JOB cannot run: <reason naming NODE and WAIT s>".
# (JOB may be a regex.) The reason's wording is the library's; only what it must say is checked.
expect_refusal() {
	local line
	line=$(grep -E -m1 "gpuslots: job $2 cannot run: " "$1") ||
		fail "no 'gpuslots: job $2 cannot run: ...' in $1: $(head -c 600 "$1")"
	[[ "$line" =~ [^[:alnum:]]$3[^[:alnum:]] ]] || fail "the refusal does not name node $3: $line"
	[[ "$line" =~ [^0-9]$4\ s ]] || fail "the refusal does not say it waited $4 s: $line"
}
