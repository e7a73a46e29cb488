# Slurm schedules by the slots (the `sched` cluster: 3 nodes x 4 GPUs, the slot GRES and the
# job_submit mapping, as the README sets them up): a burst larger than the cluster waits in
# Slurm's queue instead of failing in the prolog; arrays spread; hetjob components reserve
# what each asked; a user cannot change the mapped GRES; a manual booking holds a Slurm job;
# check-config agrees with slurmctld.

# The burst's job (burst_job): claims its GPUs with mkdir under $W/marks, holds them a moment,
# logs what it held and when; burst_report.py reads the logs.
make_burst_script() {
	mkdir -p "$W"/marks
	printf '#!/bin/bash\nexec %s "$1" "$2" %s\n' "$IT_HERE/burst_job" "$W/marks" >"$W"/burst
	chmod 0755 "$W"/burst
}

# burst_field FILE KEY: one figure of burst_report.py's output.
burst_field() { sed -n "s/^$2 //p" "$1"; }

scenario_burst() { run_burst 60; }

# run_burst N: N sbatch jobs of random 1..4 GPU slots at once on 3 x 4 GPUs (also the shared
# ledger's burst, scenarios/shared.sh).
run_burst() {
	make_burst_script
	# Random sizes, reproducible from the seed printed here.
	local seed=${BURST_SEED:-$((SECONDS + $$))} n=$1 i j sizes=() jobs=()
	RANDOM=$seed
	for i in $(seq 1 $n); do sizes+=($((RANDOM % 4 + 1))); done
	note "submitting $n jobs of 1..4 GPU slots at once (seed $seed): ${sizes[*]}"
	for i in $(seq 0 $((n - 1))); do
		j=$(sbatch --parsable -J it-burst -o "$W/burst$i.out" --gpu-slots="${sizes[$i]}" \
			"$W"/burst "${sizes[$i]}" "$EPOCHREALTIME") || fail "sbatch $i (--gpu-slots=${sizes[$i]}) was refused"
		jobs+=("$j")
	done
	# Slurm keeps the excess pending for the slots, never for the prolog.
	local end=$((SECONDS + 240)) pending_for_slots=0 left
	while :; do
		assert_no_drain
		[ "$(squeue -h -n it-burst -t PD -o %r | grep -c Resources)" -gt 0 ] && pending_for_slots=1
		left=$(squeue -h -n it-burst -o %i | wc -l)
		[ "$left" = 0 ] && break
		[ $SECONDS -lt $end ] || fail "$left burst jobs still queued or running after 240 s: $(squeue -h -n it-burst -o '%i %T %r' | head -5)"
		sleep 0.5
	done
	[ $pending_for_slots = 1 ] || fail "no burst job ever waited in the queue for Resources: Slurm did not count the slots"
	local state completed=0
	for j in "${jobs[@]}"; do
		state=$(job_state "$j")
		[ "$state" = COMPLETED ] || fail "burst job $j ended $state: $(cat "$W"/burst*.out | grep -m3 -E 'cannot run|VIOLATION')"
		completed=$((completed + 1))
	done
	cat "$W"/burst*.out >"$W"/all.out
	expect_no_grep "$W"/all.out "VIOLATION|cannot run" "burst job outputs"
	python3 "$IT_HERE"/burst_report.py 12 "$W"/burst*.out >"$W"/report.txt || fail "burst_report.py failed"
	expect_eq "$(burst_field "$W"/report.txt jobs)" $n "jobs that logged their GPUs"
	expect_eq "$(burst_field "$W"/report.txt short)" 0 "jobs that got fewer GPUs than asked"
	expect_eq "$(burst_field "$W"/report.txt overlaps)" 0 "jobs that held the same GPU at the same time"
	wait_until 30 "the ledger to be empty" eval '[ "$(ledger_task_count)" = 0 ]'
	ledger_consistent
	assert_no_drain
	ok "$n jobs: $completed COMPLETED, 0 refused, 0 overlaps; at most $(burst_field "$W"/report.txt max_running) at once, GPU use $(burst_field "$W"/report.txt gpu_use), mean wait $(burst_field "$W"/report.txt mean_wait_s) s; ledger empty, no drain"
}

scenario_arrays() {
	make_burst_script
	# 12 tasks of 2 GPUs on 3 x 4 GPUs: at most 6 at once, on every node.
	local j
	j=$(sbatch --parsable -J it-array --array=0-11 -o "$W/array-%a.out" --gpu-slots=2 \
		"$W"/burst 2 "$EPOCHREALTIME") || fail "sbatch --array failed"
	wait_until 120 "array job $j to finish" eval '[ -z "$(squeue -h -j '"$j"' -o %i)" ]'
	local bad
	bad=$(sacct_free_states "$j")
	[ -z "$bad" ] || fail "array tasks that did not complete: $bad"
	python3 "$IT_HERE"/burst_report.py 12 "$W"/array-*.out >"$W"/report.txt || fail "burst_report.py failed"
	expect_eq "$(burst_field "$W"/report.txt jobs)" 12 "array tasks that logged their GPUs"
	expect_eq "$(burst_field "$W"/report.txt overlaps)" 0 "array tasks on the same GPU at once"
	local nodes
	nodes=$(sed -n 's/^BURST .* node=\([^ ]*\) .*/\1/p' "$W"/array-*.out | sort -u | tr '\n' ' ')
	expect_eq "$nodes" "n1 n2 n3 " "nodes the array tasks ran on"
	[ "$(burst_field "$W"/report.txt max_running)" -le 6 ] ||
		fail "$(burst_field "$W"/report.txt max_running) array tasks of 2 GPUs ran at once on 12 GPUs"
	wait_until 30 "the ledger to be empty" eval '[ "$(ledger_task_count)" = 0 ]'
	ok "array $j: 12 tasks of 2 GPUs spread over $nodes(at most $(burst_field "$W"/report.txt max_running) at once), none sharing a GPU"
}

# The states of an array's tasks that are not COMPLETED ("id STATE" lines).
sacct_free_states() {
	scontrol -o show job "$1" 2>/dev/null | grep -o 'JobId=[0-9]* .*JobState=[A-Z_]*' |
		sed 's/^JobId=\([0-9]*\) .*JobState=\([A-Z_]*\)$/\1 \2/' | grep -v ' COMPLETED$'
}

scenario_job_modify() {
	local home=$W/nobody j rc
	mkdir -p "$home" && chown nobody:nogroup "$home"
	j=$(cd "$home" && as_nobody sbatch --parsable --hold -w n1 --gpu-slots=2 -o /dev/null --wrap true) ||
		fail "sbatch as nobody failed"
	expect_eq "$(job_field "$j" TresPerNode)" "gres:gpuslots:2" "TresPerNode of job $j"
	as_nobody scontrol update job "$j" TresPerNode=gres:gpuslots:1 >"$W"/update.out 2>&1
	rc=$?
	[ $rc != 0 ] || fail "nobody changed the mapped GRES of job $j (exit 0)"
	expect_grep "$W"/update.out "Access/permission denied" "scontrol's answer to nobody"
	expect_eq "$(job_field "$j" TresPerNode)" "gres:gpuslots:2" "TresPerNode of job $j after nobody's update"
	as_nobody scontrol update job "$j" TimeLimit=5 || fail "nobody could not change the time limit of job $j"
	ok "nobody cannot change job $j's slots (exit $rc: $(head -1 "$W"/update.out)); other fields still"
	scontrol update job "$j" TresPerNode=gres:gpuslots:1 || fail "root could not change job $j's GRES"
	expect_eq "$(job_field "$j" TresPerNode)" "gres:gpuslots:1" "TresPerNode of job $j after root's update"
	scancel "$j"
	wait_job_ended "$j" 20
	ok "root may"
}

scenario_hetjob() {
	# srun: each component reserves what it asked for, under its own job id.
	bg h srun -J it-het -w n1 --gpu-slots=1 "$W"/report comp0 hold : -w n2 --gpu-slots=3 "$W"/report comp1 hold
	wait_reports "$W"/h.out 2 40 >/dev/null
	local leader
	leader=$(squeue -h -n it-het -o %F | head -1)
	[ -n "$leader" ] || fail "no hetjob it-het in squeue"
	expect_eq "$(gpu_count "$(ledger_gpus n1 "$leader")")" 1 "GPUs of component 0 (job $leader) on n1"
	expect_eq "$(gpu_count "$(ledger_gpus n2 $((leader + 1)))")" 3 "GPUs of component 1 (job $((leader + 1))) on n2"
	expect_eq "$(field "$(reports "$W"/h.out | grep label=comp0)" cvd)" "$(ledger_gpus n1 "$leader")" "comp0's CUDA_VISIBLE_DEVICES"
	expect_eq "$(field "$(reports "$W"/h.out | grep label=comp1)" cvd)" "$(ledger_gpus n2 $((leader + 1)))" "comp1's CUDA_VISIBLE_DEVICES"
	expect_eq "$(job_field "$((leader + 1))" TresPerNode)" "gres:gpuslots:3" "Slurm's GRES for component 1"
	release_job "$leader"
	bg_wait h 40
	expect_eq "${BG_RC[h]}" 0 "srun exit status (hetjob $leader)"
	ok "srun hetjob $leader: component 0 holds 1 GPU on n1, component 1 holds 3 on n2"

	# sbatch: per component on the command line (what Slurm can carry), and the same value in
	# every #SBATCH component.
	local j
	j=$(sbatch --parsable -J it-het-cmd -w n1 --gpu-slots=1 -o "$W"/cmd.out : -w n3 --gpu-slots=2 \
		--wrap "srun --het-group=0,1 $W/report het-step hold") || fail "sbatch hetjob (1 : 2) was refused"
	wait_reports "$W"/cmd.out 2 40 >/dev/null
	expect_eq "$(gpu_count "$(ledger_gpus n1 "$j")")|$(gpu_count "$(ledger_gpus n3 $((j + 1)))")" "1|2" \
		"GPUs of sbatch hetjob $j's components on n1 and n3"
	release_job "$j"
	wait_job_ended "$j" 40
	expect_eq "$(job_state "$j")" COMPLETED "state of sbatch hetjob $j"
	printf '#!/bin/bash\n#SBATCH -w n1 --gpu-slots=2\n#SBATCH hetjob\n#SBATCH -w n2 --gpu-slots=2\nsrun --het-group=0,1 %s het-step\n' \
		"$W/report" >"$W"/same.sh
	j=$(sbatch --parsable -J it-het-same -o "$W"/same.out "$W"/same.sh) || fail "sbatch hetjob with the same value was refused"
	wait_job_ended "$j" 60
	expect_eq "$(job_state "$j")" COMPLETED "state of #SBATCH hetjob $j"
	expect_eq "$(report_count "$W"/same.out)" 2 "tasks of #SBATCH hetjob $j"
	ok "sbatch hetjobs: per component on the command line, the same value in every #SBATCH component"

	# Where Slurm would carry another component's value: refused at submission, no job.
	local before
	before=$(all_job_ids)
	printf '#!/bin/bash\n#SBATCH -w n1 --gpu-slots=1\n#SBATCH hetjob\n#SBATCH -w n2 --gpu-slots=3\ntrue\n' >"$W"/differ.sh
	sbatch -o /dev/null "$W"/differ.sh >"$W"/differ.out 2>&1 && fail "sbatch hetjob with different #SBATCH values was accepted"
	expect_grep "$W"/differ.out "gpuslots: hetjob component 1 asks for --gpu-slots=3, but Slurm would give it --gpu-slots=1" "sbatch's refusal"
	timeout 30 srun -w n1 --gpu-slots=1 true : -w n2 true >"$W"/spill.out 2>&1 && fail "srun hetjob whose component 1 gives no --gpu-slots was accepted"
	expect_grep "$W"/spill.out "gpuslots: hetjob component 1 gives no --gpu-slots, but Slurm would carry --gpu-slots=1" "srun's refusal"
	expect_eq "$(all_job_ids)" "$before" "jobs known to Slurm after the refused hetjobs"
	wait_until 30 "the ledger to be empty" eval '[ "$(ledger_task_count)" = 0 ]'
	ok "hetjobs Slurm would carry wrong are refused at submission: $(grep -m1 -o 'gpuslots: hetjob.*' "$W"/differ.out | cut -c1-90)..."
}

scenario_manual_booking() {
	# n2 is 'slurm: slots': the booking holds a Slurm job, so the next job there waits.
	cli allocate it-notebook 4 2 --server n2 >"$W"/allocate.out 2>&1 ||
		fail "gpuslots allocate on n2 failed: $(cat "$W"/allocate.out)"
	local holder
	holder=$(squeue -h -u root -n gpuslots-hold:it-notebook -o %i)
	[ -n "$holder" ] || fail "no holder job gpuslots-hold:it-notebook in squeue: $(squeue -h -o '%i %j %T')"
	expect_grep "$W"/allocate.out "allocated it-notebook on n2: GPUs 0,1,2,3, 2 CPUs \(Slurm counts them: holder job $holder\)" "allocate's output"
	expect_eq "$(job_state "$holder")" RUNNING "holder job $holder"
	local j
	j=$(sbatch --parsable -w n2 --gpu-slots=1 -o "$W"/after.out --wrap "$W/report after-booking") || fail "sbatch failed"
	wait_until 20 "job $j to wait for Resources" eval '[ "$(job_field '"$j"' Reason)" = Resources ]'
	expect_eq "$(job_state "$j")" PENDING "job $j while n2 is booked by hand"
	ok "the booking holds n2's slots in Slurm (holder job $holder); job $j is PENDING (Resources)"
	cli release it-notebook >"$W"/release.out 2>&1 || fail "gpuslots release failed: $(cat "$W"/release.out)"
	expect_grep "$W"/release.out "released it-notebook on n2: GPUs 0,1,2,3, 2 CPUs \(cancelled holder job $holder\)" "release's output"
	wait_job_ended "$j" 40
	expect_eq "$(job_state "$j")" COMPLETED "job $j after the release"
	wait_ledger_clear "$j" 20
	expect_eq "$(squeue -h -n gpuslots-hold:it-notebook -o %i)" "" "holder jobs left"
	ok "after the release, job $j ran and COMPLETED"

	# No room in Slurm now: exit 3 after the bounded wait, nothing booked, no holder left.
	local busy rc
	busy=$(sbatch --parsable -w n3 --gpu-slots=4 -o /dev/null --wrap "$W/report busy hold") || fail "sbatch failed"
	wait_job_state "$busy" RUNNING 30
	# RUNNING comes before its prolog (PrologFlags=Alloc) has reserved: wait for the ledger.
	wait_ledger_has "$busy" n3 20
	local before
	before=$(ledger_snapshot)
	cli allocate it-late 1 0 --server n3 --wait 2 >"$W"/late.out 2>"$W"/late.err
	rc=$?
	expect_eq "$rc" 3 "exit status of allocate on a full n3"
	expect_grep "$W"/late.err "gpuslots: Slurm has no room for it on n3 now" "allocate's message"
	expect_eq "$(ledger_snapshot)" "$before" "the ledger after the refused booking"
	expect_eq "$(squeue -h -n gpuslots-hold:it-late -o %i)" "" "holder jobs left after the refused booking"
	release_job "$busy"
	wait_job_ended "$busy" 30
	wait_ledger_clear "$busy" 20
	ok "no room on n3: allocate exits 3 ($(cat "$W"/late.err | cut -c1-80)...), nothing booked"
}

scenario_check_config_slurm() {
	local rc
	if [[ ",$PROLOG_FLAGS," != *,Alloc,* ]]; then
		cli check-config >"$W"/check.out 2>"$W"/check.err
		rc=$?
		expect_eq "$rc" 4 "check-config's exit status without PrologFlags=Alloc"
		expect_grep "$W"/check.err "gpuslots: slurm: slurm.conf: PrologFlags has no Alloc, .*set PrologFlags=Alloc" "check-config's complaint"
		expect_eq "$(wc -l <"$W"/check.err)" 1 "check-config's complaints (only Alloc is missing)"
		ok "without PrologFlags=Alloc check-config says so: $(cut -c1-100 "$W"/check.err)..."
		return
	fi
	cli check-config >"$W"/check.out 2>"$W"/check.err || fail "check-config failed on a right setup: $(cat "$W"/check.err)"
	expect_grep "$W"/check.out "slurmctld 22\.05\.[0-9]+: 3 server\(s\) scheduled by the slots, 0 following gres/gpu; they match slurmctld; job_submit mapping active" "check-config's report"
	expect_eq "$(cat "$W"/check.err)" "" "check-config's complaints about a right setup"
	ok "check-config: $(grep slurmctld "$W"/check.out)"
	# The config says n2 has 2 GPUs, Slurm counts 4: named, with the fix.
	python3 - "$GPUSLOTS_CONFIG" "$W"/wrong.yaml <<-'EOF' || fail "cannot write the wrong config"
		import sys
		lines = open(sys.argv[1]).read().replace("name: n[1-3]", "name: n[1,3]")
		lines = lines.replace("servers:\n", "servers:\n  - name: n2\n    gpus: 2\n    cpus: 8\n    slurm: slots\n", 1)
		open(sys.argv[2], "w").write(lines)
	EOF
	"$CLI" --config "$W"/wrong.yaml check-config >"$W"/wrong.out 2>"$W"/wrong.err
	rc=$?
	expect_eq "$rc" 4 "check-config's exit status with n2 at 2 GPUs"
	expect_grep "$W"/wrong.err "gpuslots: slurm: node n2 offers gpuslots:4 in Slurm, but .*wrong.yaml says it has 2 GPUs; set Gres=gpuslots:2,cpuslots:8 on its NodeName line" "check-config's complaint"
	ok "a wrong count is named with its fix: $(head -1 "$W"/wrong.err | cut -c1-100)..."
}
