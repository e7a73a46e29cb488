# Leaks and `gpuslots reconcile` (the `recon` cluster: 3 nodes x 4 GPUs, the slot GRES, a short
# SlurmdTimeout): a node that crashes with its job (slurmd, slurmstepd and tasks killed), a
# slurmd dead while its job ends and the node goes DOWN, a burst of jobs with reconcile running
# beside it in a loop. Each counts the GPUs leaked (held in the ledger by a Slurm job that does
# not run on that node, as slurmctld says) before and after reconcile.

# leaked_gpus: the GPUs the ledger holds for Slurm jobs that slurmctld does not show running
# on that node. Computed from scontrol, not from gpuslots' own verdicts.
leaked_gpus() {
	local node job n state nodes total=0
	while read -r node job n; do
		[ -n "$node" ] || continue
		state=$(job_state "$job")
		nodes=$(job_field "$job" NodeList)
		if [ "$state" = RUNNING ] && scontrol show hostnames "$nodes" 2>/dev/null | grep -qx "$node"; then
			continue
		fi
		total=$((total + n))
	done < <(query slurm_held)
	echo "$total"
}

# The ledger's bytes (the database and its write-ahead log), for "changes nothing".
ledger_digest() {
	cat "$CLUSTER_DIR"/state/ledger.db "$CLUSTER_DIR"/state/ledger.db-wal 2>/dev/null | sha256sum | cut -c1-16
}

slurmd_pid() { cat "$CLUSTER_DIR/run/slurmd.$1.pid" 2>/dev/null; }
slurmd_alive() { alive "$(slurmd_pid "$1")"; }
start_slurmd() { # NODE
	slurmd_alive "$1" && return 0
	slurmd -f "$SLURM_CONF" -N "$1" || fail "slurmd $1 did not start again (see $CLUSTER_DIR/log/slurmd.$1.log)"
	wait_until 20 "slurmd $1 to write its pid file" slurmd_alive "$1"
}
# The slurmstepds of JOB ("slurmstepd: [JOB.batch]", "[JOB.0]", ...).
stepds_of() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(cat "$p"/comm 2>/dev/null)" = slurmstepd ] || continue
		tr '\0' ' ' <"$p"/cmdline 2>/dev/null | grep -q "\[$1\." && echo "${p#/proc/}"
	done
}
# crash_node NODE JOB: what a crash or power loss does to NODE: slurmd, the job's slurmstepds
# and their tasks die at once (SIGKILL; no epilog, no message to slurmctld).
crash_node() {
	local pid stepds=() tasks=() child
	pid=$(slurmd_pid "$1")
	alive "$pid" || fail "slurmd $1 is not running"
	read -ra stepds < <(stepds_of "$2" | tr '\n' ' ')
	[ ${#stepds[@]} -gt 0 ] || fail "no slurmstepd of job $2 found"
	for child in "${stepds[@]}"; do
		read -ra more < <(ps -o pid= --ppid "$child" 2>/dev/null | tr '\n' ' ')
		tasks+=("${more[@]}")
	done
	kill -KILL "$pid" "${stepds[@]}"
	# proctrack/pgid: each task leads its own process group.
	for child in "${tasks[@]}"; do kill -KILL -- "-$child" 2>/dev/null || kill -KILL "$child" 2>/dev/null; done
	note "crashed $1: killed slurmd $pid, slurmstepd(s) ${stepds[*]}, task(s) ${tasks[*]:-none}"
	wait_until 10 "slurmd $1 to be gone" eval '! slurmd_alive '"$1"
}

# What a scenario here leaves behind on failure: a dead slurmd would break every later one.
restart_dead_slurmds() {
	local i
	alive "$(cat "$CLUSTER_DIR"/run/slurmctld.pid 2>/dev/null)" || slurmctld -f "$SLURM_CONF"
	for i in $(seq 1 "$NODES"); do
		slurmd_alive "n$i" || slurmd -f "$SLURM_CONF" -N "n$i"
	done
}

wait_node_idle() { # NODE SECONDS
	wait_until "$2" "$1 to be idle (now $(node_state "$1"))" eval '[ "$(node_state '"$1"')" = idle ]'
}

# After reconcile: the next GPU job on NODE runs and sees all of its GPUs.
next_job_runs() { # NODE LABEL
	local gpus
	gpus=$(query gpus_total "$1")
	srun -w "$1" --gpu-slots="$gpus" "$W"/report "$2" >"$W/$2.out" 2>"$W/$2.err" ||
		fail "the next GPU job on $1 failed: $(cat "$W/$2.err")"
	expect_eq "$(gpu_count "$(field "$(reports "$W/$2.out")" cvd)")" "$gpus" "GPUs the next job on $1 saw"
}

# sbatch_held NODE GPUS LABEL: a batch job on NODE holding GPUS until release_job; prints its id
# once it runs and the ledger has its reservation.
sbatch_held() {
	local j
	j=$(sbatch --parsable --no-requeue -w "$1" --gpu-slots="$2" -o "$W/$3.out" "$W"/report "$3" hold) ||
		fail "sbatch on $1 failed"
	wait_reports "$W/$3.out" 1 30 >/dev/null
	wait_ledger_has "$j" "$1" 10
	echo "$j"
}

# A controller restart (an upgrade, a failover): slurmctld keeps its jobs and nodes in
# StateSaveLocation, but not the messages it still had to deliver.
restart_slurmctld() {
	local pid
	pid=$(cat "$CLUSTER_DIR"/run/slurmctld.pid)
	kill -TERM "$pid"
	wait_until 30 "slurmctld ($pid) to stop" eval '! alive '"$pid"
	slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start again (see $CLUSTER_DIR/log/slurmctld.log)"
	wait_until 30 "slurmctld to answer again" eval 'scontrol ping 2>/dev/null | grep -q "is UP"'
}

# crash_and_return NODE JOB [restart]: NODE crashes with JOB, Slurm marks it DOWN (here at
# once, as it would after SlurmdTimeout), optionally slurmctld restarts meanwhile, and NODE's
# slurmd comes back.
crash_and_return() {
	crash_node "$1" "$2"
	scontrol update nodename="$1" state=down reason="it: simulated crash" || fail "scontrol update $1 down failed"
	wait_job_ended "$2" 30
	[ "${3:-}" = restart ] && restart_slurmctld
	start_slurmd "$1"
	wait_node_idle "$1" 60
}

scenario_node_crash() {
	trap 'rc=$?; restart_dead_slurmds; (exit $rc); it_end' EXIT
	local j1 j leaked_kept before after digest
	# While slurmctld stays up it retries the job's termination until the node answers again:
	# the returning slurmd runs the epilog, which releases (Slurm 22.05, seen here).
	j1=$(sbatch_held n1 4 crash1)
	crash_and_return n1 "$j1"
	wait_until 20 "the returning slurmd's epilog to release job $j1" ledger_clear_of "$j1"
	leaked_kept=$(leaked_gpus)
	expect_eq "$leaked_kept" 0 "GPUs leaked when slurmctld stayed up"
	note "slurmctld up: job $j1 $(job_state "$j1"), its epilog ran when n1 came back; $leaked_kept GPUs leaked"

	# slurmctld restarted while the node was down: that termination is lost, no epilog runs.
	j=$(sbatch_held n1 4 crash)
	crash_and_return n1 "$j" restart
	before=$(leaked_gpus)
	expect_eq "$before" 4 "GPUs leaked on n1 by the crash, before reconcile (the epilog never ran)"
	expect_eq "$(ledger_gpus n1 "$j")" "0,1,2,3" "job $j's reservation on n1 before reconcile"

	# status marks it, check-config reports it with its fix.
	cli status >"$W"/status.out 2>"$W"/status.err || fail "status failed: $(cat "$W"/status.err)"
	expect_grep "$W"/status.out "^n1 .* job:$j\(gone\)" "status"
	expect_grep "$W"/status.err "1 reservation\(s\) of Slurm jobs that no longer run there" "status's warning"
	expect_eq "$(cli status --json 2>/dev/null | python3 -c 'import json,sys; s=json.load(sys.stdin); t=[t for v in s["servers"] for t in v["tasks"]][0]; print(s["slurm_checked"], t["gone"], t["job_state"])')" \
		"True True NODE_FAIL" "status --json: slurm_checked, gone, job_state"
	cli check-config >"$W"/check.out 2>"$W"/check.err
	expect_eq "$?" 4 "check-config's exit code with a leak"
	expect_grep "$W"/check.err "^gpuslots: leak: job $j holds GPUs \[0,1,2,3\] and [0-9]+ CPUs on n1, but job $j is NODE_FAIL; release it with 'gpuslots reconcile --server n1' once it is 300 s old" "check-config"

	# Within the default grace period (300 s), reconcile keeps it.
	digest=$(ledger_digest)
	cli reconcile >"$W"/grace.out 2>&1 || fail "reconcile failed: $(cat "$W"/grace.out)"
	expect_grep "$W"/grace.out "^kept job $j on n1 .*grace period of 300 s" "reconcile within the grace period"
	expect_eq "$(ledger_digest)" "$digest" "ledger bytes after reconcile within the grace period"

	# --dry-run says what it would do and changes nothing.
	cli reconcile --dry-run --grace 0 >"$W"/dry.out 2>&1 || fail "reconcile --dry-run failed: $(cat "$W"/dry.out)"
	expect_grep "$W"/dry.out "^would release job $j on n1 \(GPUs \[0,1,2,3\] and " "reconcile --dry-run"
	cli reconcile --dry-run --grace 0 --json >"$W"/dry.json 2>&1 || fail "reconcile --dry-run --json failed"
	expect_grep "$W"/dry.json "\"action\":\"would_release\",\"reason\":\"ended\",\"job_state\":\"NODE_FAIL\"" "reconcile --dry-run --json"
	expect_eq "$(ledger_digest)" "$digest" "ledger bytes after reconcile --dry-run"
	expect_eq "$(leaked_gpus)" 4 "GPUs leaked after --dry-run"

	cli reconcile --grace 0 >"$W"/reconcile.out 2>&1 || fail "reconcile failed: $(cat "$W"/reconcile.out)"
	expect_grep "$W"/reconcile.out "^released job $j on n1 \(GPUs \[0,1,2,3\] and .*job $j is NODE_FAIL" "reconcile"
	after=$(leaked_gpus)
	expect_eq "$after" 0 "GPUs leaked after reconcile"
	ledger_clear_of "$j" || fail "job $j still holds $(ledger_nodes "$j") after reconcile"
	cli check-config >"$W"/check2.out 2>"$W"/check2.err || fail "check-config after reconcile: $(cat "$W"/check2.err)"
	ledger_consistent
	next_job_runs n1 next
	assert_no_drain
	ok "node crash on n1 (job $j $(job_state "$j"), slurmctld restarted meanwhile): leaked GPUs $before before reconcile, $after after (with slurmctld up all along: $leaked_kept); --dry-run and the grace period left the ledger's bytes as they were; the next 4-GPU job on n1 ran"
}

scenario_slurmd_down() {
	trap 'rc=$?; restart_dead_slurmds; (exit $rc); it_end' EXIT
	local j before after
	j=$(sbatch --parsable --no-requeue -N2 -w n1,n2 --gpu-slots=2 -o "$W"/down.out \
		--wrap "srun $W/report down hold") || fail "sbatch -N2 failed"
	wait_reports "$W"/down.out 2 30 >/dev/null
	wait_ledger_has "$j" n2 10
	local pid
	pid=$(slurmd_pid n2)
	kill -KILL "$pid"
	note "killed slurmd n2 ($pid); the job's slurmstepds and tasks live on"
	release_job "$j"
	# The job ends; its epilog runs on n1, not on n2, until Slurm gives up on n2 (SlurmdTimeout).
	wait_until 30 "job $j's script to end (now $(job_state "$j"))" eval '[ "$(job_state '"$j"')" != RUNNING ]'
	wait_until $((SLURMD_TIMEOUT * 4 + 20)) "n2 to go DOWN (now $(node_state n2))" \
		eval '[[ "$(node_state n2)" == down* ]]'
	wait_job_ended "$j" 30
	note "n2 is $(node_state n2); job $j is $(job_state "$j")"
	wait_until 10 "n1's epilog to release job $j there" eval '! ledger_has '"$j"' n1'
	start_slurmd n2
	wait_node_idle n2 60
	before=$(leaked_gpus)
	expect_eq "$before" 2 "GPUs leaked on n2, before reconcile"
	cli reconcile --grace 0 --server n2 >"$W"/reconcile.out 2>&1 || fail "reconcile failed: $(cat "$W"/reconcile.out)"
	expect_grep "$W"/reconcile.out "^released job $j on n2 " "reconcile"
	after=$(leaked_gpus)
	expect_eq "$after" 0 "GPUs leaked after reconcile"
	ledger_consistent
	next_job_runs n2 next
	assert_no_drain
	ok "slurmd n2 dead while job $j ended ($(job_state "$j")): leaked GPUs $before before reconcile, $after after; n1's own epilog released its share; the next 4-GPU job on n2 ran"
}

# A burst of jobs with reconcile --grace 0 running in a loop beside it: it must never take a
# running job's GPUs (0 released: every job here ends normally and its epilog releases it).
scenario_reconcile_burst() {
	make_burst_script
	local seed=${BURST_SEED:-$((SECONDS + $$))} n=30 i j sizes=() jobs=()
	RANDOM=$seed
	for i in $(seq 1 $n); do sizes+=($((RANDOM % 4 + 1))); done
	mkdir -p "$W"/rec
	# (bg runs it in $W.)
	bg recloop bash -c 'i=0; while [ ! -e stop ]; do
		"$0" --config "$1" reconcile --grace 0 --json >"rec/$i.json" 2>"rec/$i.err"
		echo $? >"rec/$i.rc"; i=$((i + 1)); done' "$CLI" "$GPUSLOTS_CONFIG"
	note "submitting $n jobs of 1..4 GPU slots (seed $seed), reconcile --grace 0 looping beside them"
	for i in $(seq 0 $((n - 1))); do
		j=$(sbatch --parsable -J it-burst -o "$W/burst$i.out" --gpu-slots="${sizes[$i]}" \
			"$W"/burst "${sizes[$i]}" "$EPOCHREALTIME") || fail "sbatch $i was refused"
		jobs+=("$j")
	done
	wait_until 240 "the burst to finish ($(squeue -h -n it-burst -o %i | wc -l) left)" \
		eval '[ -z "$(squeue -h -n it-burst -o %i)" ]'
	touch "$W"/stop
	bg_wait recloop 60
	for j in "${jobs[@]}"; do
		expect_eq "$(job_state "$j")" COMPLETED "state of burst job $j"
	done
	python3 "$IT_HERE"/burst_report.py 12 "$W"/burst*.out >"$W"/report.txt || fail "burst_report.py failed"
	expect_eq "$(burst_field "$W"/report.txt jobs)" $n "jobs that logged their GPUs"
	expect_eq "$(burst_field "$W"/report.txt overlaps)" 0 "jobs that held the same GPU at the same time"
	local runs failed released checked
	runs=$(find "$W"/rec -name '*.rc' | wc -l)
	[ "$runs" -ge 3 ] || fail "reconcile ran only $runs time(s) beside the burst"
	failed=$(grep -lvx 0 "$W"/rec/*.rc | head -1)
	[ -z "$failed" ] || fail "reconcile failed beside the burst ($failed): $(head -3 "${failed%.rc}.err" 2>/dev/null)"
	read -r released checked < <(python3 - "$W"/rec <<-'EOF'
		import json, pathlib, sys
		released = checked = 0
		for f in pathlib.Path(sys.argv[1]).glob("*.json"):
		    text = f.read_text().strip()
		    if not text:
		        continue
		    out = json.loads(text)
		    released += sum(1 for r in out["reservations"] if r["action"] == "released")
		    checked += sum(1 for r in out["reservations"] if r["origin"] == "slurm")
		print(released, checked)
	EOF
	)
	expect_eq "$released" 0 "reservations released by reconcile beside the burst"
	[ "$checked" -gt 0 ] || fail "reconcile never saw a running job's reservation beside the burst"
	wait_until 30 "the ledger to be empty" eval '[ "$(ledger_task_count)" = 0 ]'
	ledger_consistent
	assert_no_drain
	ok "$n jobs, reconcile --grace 0 run $runs times beside them: $checked running jobs' reservations judged, 0 released, 0 overlaps, all COMPLETED"
}

# A manual booking with --for 2s on a server Slurm schedules (so it holds a holder job):
# reconcile keeps it before it expires and releases it, with its holder, after.
scenario_manual_expiry() {
	local holder out
	cli allocate brief 2 2 --server n3 --for 2s >"$W"/allocate.out 2>&1 ||
		fail "allocate --for 2s failed: $(cat "$W"/allocate.out)"
	expect_grep "$W"/allocate.out "^allocated brief on n3: GPUs \[0,1\] and 2 CPUs, until .*holder job [0-9]+" "allocate --for 2s"
	holder=$(squeue -h -n gpuslots-hold:brief -o %i)
	[ -n "$holder" ] || fail "no holder job for the booking"
	cli reconcile --grace 0 >"$W"/early.out 2>&1 || fail "reconcile failed: $(cat "$W"/early.out)"
	expect_grep "$W"/early.out ": 0 released," "reconcile before the expiry"
	[ "$(query nodes_of_task brief)" = n3 ] || fail "the booking is gone before it expired: $(cli status --no-slurm)"
	expect_eq "$(job_state "$holder")" RUNNING "holder job $holder before the expiry"
	wait_until 15 "status to show brief as expired" eval 'cli status 2>/dev/null | grep -q "brief(expired)"'
	cli reconcile --grace 0 >"$W"/late.out 2>&1 || fail "reconcile failed: $(cat "$W"/late.out)"
	expect_grep "$W"/late.out "^released task 'brief' on n3 \(GPUs \[0,1\] and 2 CPUs, .*expired at .*; cancelled holder job $holder$" "reconcile after the expiry"
	[ -z "$(query nodes_of_task brief)" ] || fail "the booking is still there after reconcile"
	wait_job_ended "$holder" 30
	next_job_runs n3 next
	ok "allocate --for 2s on n3: kept by reconcile before it expired, released with its holder job $holder ($(job_state "$holder")) after; the next 4-GPU job on n3 ran"
}
