# shellcheck shell=bash
# Recovery without an admin: a node releases its jobs of an earlier boot by itself (at slurmd
# start and before refusing a job for lack of room); a config pushed while jobs run drains no
# node and leaks nothing; a ledger moved while jobs hold GPUs never hands them out twice.
# Each prints "leaked GPUs: N" (what the ledger holds for jobs that are gone, or GPUs handed
# out twice) for the README's before/after figures.

# ledger_sql SQL: SQL on the cluster's SQLite ledger, behind gpuslots' back (python3's sqlite3:
# the sqlite3 tool is optional), for a reservation "recorded under another boot id".
ledger_sql() {
	python3 - "$CLUSTER_DIR/state/ledger.db" "$1" <<'PY' || fail "SQL on the ledger failed: $1"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript(sys.argv[2])
db.commit()
PY
}
# fake_old_boot_job JOB NODE GPU...: JOB holds GPU... on NODE, reserved an hour ago under a boot
# id that is not this host's: what a node's crash or power loss leaves behind.
fake_old_boot_job() {
	local job=$1 node=$2 g values=""
	shift 2
	for g in "$@"; do
		values+="${values:+,}('$node', $g, (SELECT id FROM reservations WHERE task_id = '$job' AND server = '$node'))"
	done
	ledger_sql "INSERT INTO reservations (origin, task_id, server, cpus, gpu_count, owner_uid, created, boot_id)
		VALUES ('slurm', '$job', '$node', 0, $#, 0, strftime('%s', 'now') - 3600, 'an-earlier-boot');
		INSERT INTO gpu_holds (server, gpu, reservation) VALUES $values;"
}
# leaked_gpus JOB...: GPUs the ledger still holds for these jobs (which are all gone).
leaked_gpus() {
	local j n=0 node gpus
	for j in "$@"; do
		for node in $(ledger_nodes "$j"); do
			gpus=$(ledger_gpus "$node" "$j")
			[ "$gpus" = NONE ] || n=$((n + $(gpu_count "$gpus")))
		done
	done
	echo $n
}
restart_slurmd() { # NODE
	local pidfile=$CLUSTER_DIR/run/slurmd.$1.pid pid
	pid=$(cat "$pidfile") || fail "no pid file $pidfile"
	kill "$pid" || fail "cannot stop slurmd $1 (pid $pid)"
	poll_until 30 eval "! kill -0 $pid 2>/dev/null" || fail "slurmd $1 (pid $pid) did not stop"
	if [ "${UTS:-0}" = 1 ]; then
		unshare --uts sh -c "hostname $1 && exec slurmd -f '$SLURM_CONF' -N $1" || fail "slurmd $1 did not start"
	else
		slurmd -f "$SLURM_CONF" -N "$1" || fail "slurmd $1 did not start"
	fi
	wait_until 60 "$1 back and idle (is $(node_state "$1"))" eval '[ "$(node_state '"$1"')" = idle ]'
}

scenario_reboot_rule() {
	local node=n1 total log=$CLUSTER_DIR/log/slurmd.n1.log
	total=$(ledger_gpus_total $node)
	srun -w $node --gpu-slots=1 true || fail "srun on $node failed"  # the ledger exists
	wait_until 20 "an empty ledger" eval '[ "$(ledger_task_count)" = 0 ]'

	# Before a refusal: job 999001 "ran before the crash" and holds all of n1; Slurm (which
	# knows of no such job) starts the next GPU job there, whose prolog finds no room.
	fake_old_boot_job 999001 $node $(seq 0 $((total - 1)))
	expect_eq "$(leaked_gpus 999001)" "$total" "GPUs held by job 999001 before"
	note "before: leaked GPUs: $total (job 999001, reserved under another boot)"
	srun -w $node --gpu-slots="$total" "$W"/report next >"$W"/next.out 2>"$W"/next.err ||
		fail "the next GPU job on $node failed: $(cat "$W"/next.err)"
	expect_eq "$(gpu_count "$(field "$(reports "$W"/next.out)" cvd)")" "$total" "GPUs of the next job on $node"
	expect_grep "$log" "gpuslots: job_prolog: released job 999001's GPUs 0(,[0-9]+)* on $node: reserved before this node's boot at " \
		"the prolog's log line"
	note "$(grep -o "gpuslots: job_prolog: released job 999001.*" "$log" | tail -1)"
	expect_eq "$(leaked_gpus 999001)" 0 "GPUs left to job 999001"
	ok "a job of an earlier boot is released before a refusal; the next GPU job ran on all $total GPUs"

	# At slurmd start: job 999002 likewise; slurmd comes back (as after a reboot).
	wait_until 20 "an empty ledger" eval '[ "$(ledger_task_count)" = 0 ]'
	fake_old_boot_job 999002 $node 0
	expect_eq "$(leaked_gpus 999002)" 1 "GPUs held by job 999002 before"
	restart_slurmd $node
	wait_until 20 "slurmd's log line" grep -q "gpuslots: slurmd: released job 999002's GPUs 0 on $node: reserved before this node's boot at " "$log"
	note "$(grep -o "gpuslots: slurmd: released job 999002.*" "$log" | tail -1)"
	expect_eq "$(leaked_gpus 999002)" 0 "GPUs left to job 999002"
	srun -w $node --gpu-slots="$total" "$W"/report after >"$W"/after.out 2>"$W"/after.err ||
		fail "the GPU job after slurmd's start failed: $(cat "$W"/after.err)"
	assert_no_drain
	note "after: leaked GPUs: 0"
	ok "slurmd's start released its node's job of an earlier boot; the next GPU job ran"
}

scenario_config_push() {
	# Two GPU jobs run; a third is queued (held); then an invalid config reaches the nodes.
	local j1 j2 j3 jc good=$W/good.yaml
	cp -p "$GPUSLOTS_CONFIG" "$good"
	j1=$(sbatch --parsable -w n2 --gpu-slots=2 -o "$W"/j1.out --wrap "$W/report j1 hold") || fail "sbatch failed"
	j2=$(sbatch --parsable -w n3 --gpu-slots=1 -o "$W"/j2.out --wrap "$W/report j2 hold") || fail "sbatch failed"
	j3=$(sbatch --parsable --hold -w n3 --gpu-slots=1 -o "$W"/j3.out --wrap "$W/report j3") || fail "sbatch failed"
	wait_ledger_has "$j1" n2 30
	wait_ledger_has "$j2" n3 30
	conf_backup
	printf 'servers: [\n  - name: n1\n' >"$GPUSLOTS_CONFIG.tmp" && mv "$GPUSLOTS_CONFIG.tmp" "$GPUSLOTS_CONFIG"

	# A CPU-only job runs and its epilog succeeds.
	srun -w n2 "$W"/report cpu >"$W"/cpu.out 2>"$W"/cpu.err || fail "a CPU-only job failed: $(cat "$W"/cpu.err)"
	jc=$(field "$(reports "$W"/cpu.out)" job)
	wait_job_ended "$jc" 20
	assert_no_drain
	ok "a CPU-only job ran with the invalid config; its epilog succeeded, no drain"

	# New GPU jobs are refused with the config error: at submission, and the queued one at
	# its start, which fails, its node staying in service.
	srun -w n2 --gpu-slots=1 true >"$W"/new.out 2>"$W"/new.err && fail "srun --gpu-slots=1 ran with an invalid config"
	expect_grep "$W"/new.err "gpuslots.*$(basename "$GPUSLOTS_CONFIG")" "srun's refusal naming the config"
	note "at submission: $(grep -m1 -o 'gpuslots: .*' "$W"/new.err)"
	scontrol release "$j3" || fail "scontrol release $j3 failed"
	wait_job_ended "$j3" 40
	expect_eq "$(job_state "$j3")" FAILED "state of job $j3, started with the invalid config"
	expect_grep "$W"/j3.out "gpuslots: job $j3 cannot run: .*$(basename "$GPUSLOTS_CONFIG")" "job $j3's output"
	note "queued job: $(grep -m1 -o 'gpuslots: job .*' "$W"/j3.out)"
	assert_no_drain
	ok "GPU jobs refused with the config error, no drain"

	# The running jobs end: each epilog releases from the ledger its prolog used.
	release_job "$j1"
	release_job "$j2"
	wait_job_ended "$j1" 30
	wait_job_ended "$j2" 30
	expect_eq "$(job_state "$j1") $(job_state "$j2")" "COMPLETED COMPLETED" "states of jobs $j1 $j2"
	GPUSLOTS_CONFIG=$good wait_ledger_clear "$j1" 20
	local leaked
	leaked=$(GPUSLOTS_CONFIG=$good leaked_gpus "$j1" "$j2")
	note "after: leaked GPUs: $leaked"
	expect_eq "$leaked" 0 "GPUs still reserved for jobs $j1 $j2"
	assert_no_drain
	ok "both running jobs released when they ended, no node drained"

	# The fix: everything works, without anyone resuming a node.
	conf_restore
	srun -w n2 --gpu-slots=4 "$W"/report fixed >"$W"/fixed.out 2>"$W"/fixed.err ||
		fail "a GPU job after the fix failed: $(cat "$W"/fixed.err)"
	expect_eq "$(gpu_count "$(field "$(reports "$W"/fixed.out)" cvd)")" 4 "GPUs of the job after the fix"
	assert_no_drain
	ok "after the fix, GPU jobs run at once (no 'scontrol update ... state=resume')"
}

scenario_ledger_move() {
	# Job 1 holds 2 of n2's 4 GPUs; then state.path changes. Slurm (which counts slots) starts
	# a second 2-GPU job on n2: the new, empty ledger would hand it GPUs 0,1 again.
	local j1 j2 old new=$CLUSTER_DIR/state/moved.db good=$W/good.yaml
	cp -p "$GPUSLOTS_CONFIG" "$good"
	old=$(sed -n 's/^  path: //p' "$GPUSLOTS_CONFIG")
	rm -f "$new" "$new"-wal "$new"-shm && rm -rf "$new".status
	j1=$(sbatch --parsable -w n2 --gpu-slots=2 -o "$W"/j1.out --wrap "$W/report j1 hold") || fail "sbatch failed"
	wait_reports "$W"/j1.out 1 30 >/dev/null
	conf_backup
	sed "s|^  path: .*|  path: $new|" "$CLUSTER_DIR"/gpuslots.yaml.orig >"$GPUSLOTS_CONFIG.tmp" &&
		mv "$GPUSLOTS_CONFIG.tmp" "$GPUSLOTS_CONFIG"
	srun -w n2 --gpu-slots=2 "$W"/report j2 >"$W"/j2.out 2>"$W"/j2.err
	local cvd1 cvd2 twice=0 g
	cvd1=$(field "$(reports "$W"/j1.out)" cvd)
	cvd2=$(field "$(reports "$W"/j2.out)" cvd)
	for g in ${cvd2//,/ }; do [[ ",$cvd1," == *",$g,"* ]] && twice=$((twice + 1)); done
	note "job 1 GPUs [$cvd1], job 2 GPUs [${cvd2:-none}]: leaked GPUs (handed out twice): $twice"
	expect_eq "$twice" 0 "GPUs handed to both jobs"
	expect_grep "$W"/j2.err "gpuslots: job [0-9]+ cannot run: the ledger has moved .*job $j1 holds its slots in $old.*now names $new" \
		"the second job's refusal"
	note "$(grep -m1 -o 'gpuslots: job .*' "$W"/j2.err)"
	assert_no_drain
	ok "a second job is refused while the old ledger holds n2's GPUs, naming both ledgers"

	release_job "$j1"
	wait_job_ended "$j1" 30
	GPUSLOTS_CONFIG=$good wait_ledger_clear "$j1" 20
	ok "job 1's epilog released from the ledger its prolog used"
	srun -w n2 --gpu-slots=4 "$W"/report j3 >"$W"/j3.out 2>"$W"/j3.err ||
		fail "a GPU job on the moved ledger failed: $(cat "$W"/j3.err)"
	expect_eq "$(gpu_count "$(field "$(reports "$W"/j3.out)" cvd)")" 4 "GPUs of the job on the moved ledger"
	assert_no_drain
	ok "then the moved ledger serves n2"
	conf_restore
}
