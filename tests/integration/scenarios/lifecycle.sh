# Jobs over several nodes, and jobs that end other than by finishing: scancel, time limit.

scenario_multinode() {
	# srun -N3: one reservation per node, each task sees its own node's.
	bg a srun -N3 -J it-multi-srun --gpu-slots=1 --cpu-slots=1 "$W"/report srun-N3 hold
	local j
	j=$(wait_reports "$W"/a.out 3 30)
	expect_eq "$(reports "$W"/a.out | sed 's/.* node=\([^ ]*\).*/\1/' | sort | tr '\n' ' ')" "n1 n2 n3 " \
		"nodes that ran a task of job $j"
	check_reports "$W"/a.out
	expect_eq "$(ledger_nodes "$j")" "n1 n2 n3" "nodes where job $j holds a reservation"
	ok "srun -N3 job $j holds a GPU on n1 [$(ledger_gpus n1 "$j")], n2 [$(ledger_gpus n2 "$j")], n3 [$(ledger_gpus n3 "$j")]"
	release_job "$j"
	bg_wait a 30
	expect_eq "${BG_RC[a]}" 0 "srun exit status (job $j)"
	wait_ledger_clear "$j" 20

	# sbatch -N2 with a step over both nodes.
	j=$(sbatch --parsable -N2 -w n2,n3 --gpu-slots=2 -o "$W"/b.out --wrap "srun -N2 $W/report step hold") ||
		fail "sbatch failed"
	wait_reports "$W"/b.out 2 40 >/dev/null
	check_reports "$W"/b.out
	expect_eq "$(ledger_nodes "$j")" "n2 n3" "nodes where job $j holds a reservation"
	ok "sbatch -N2 job $j: its step on n2 [$(ledger_gpus n2 "$j")] and n3 [$(ledger_gpus n3 "$j")]"
	release_job "$j"
	wait_job_ended "$j" 30
	expect_eq "$(job_state "$j")" COMPLETED "state of job $j"
	wait_ledger_clear "$j" 20

	# sbatch -N3 without a step: with PrologFlags=Alloc every node's prolog reserves at
	# allocation; without it only the batch host's (the first node) does. Either way the
	# epilog runs on every node and nothing is left.
	j=$(sbatch --parsable -N3 --gpu-slots=1 -o "$W"/c.out --wrap "$W/report batch hold") || fail "sbatch failed"
	wait_reports "$W"/c.out 1 40 >/dev/null
	check_reports "$W"/c.out
	local batch_host expected
	batch_host=$(field "$(reports "$W"/c.out)" node)
	if [[ ",$PROLOG_FLAGS," == *,Alloc,* ]]; then expected="n1 n2 n3"; else expected=$batch_host; fi
	expect_eq "$(ledger_nodes "$j")" "$expected" "nodes where job $j (sbatch -N3, no step) holds a reservation"
	ok "sbatch -N3 job $j without a step holds GPUs on: $expected"
	release_job "$j"
	wait_job_ended "$j" 30
	wait_ledger_clear "$j" 20
	assert_no_drain
	ok "every node's reservation released"
}

scenario_scancel() {
	local j
	j=$(sbatch --parsable -w n2 --gpu-slots=2 --cpu-slots=2 -o "$W"/b.out --wrap "$W/report batch hold") ||
		fail "sbatch failed"
	wait_reports "$W"/b.out 1 30 >/dev/null
	check_reports "$W"/b.out
	scancel "$j" || fail "scancel $j failed"
	wait_job_state "$j" CANCELLED 20
	wait_ledger_clear "$j" 20
	expect_grep "$CLUSTER_DIR"/log/slurmd.n2.log "gpuslots: job_epilog: job $j on n2: released GPUs" "epilog log line"
	ok "scancel of running sbatch job $j: its GPUs came back"

	bg s srun -w n3 -J it-scancel-srun --gpu-slots=1 "$W"/report srun hold
	j=$(wait_reports "$W"/s.out 1 30)
	check_reports "$W"/s.out
	scancel "$j" || fail "scancel $j failed"
	bg_wait s 30
	[ "${BG_RC[s]}" != 0 ] || fail "srun of cancelled job $j exited 0"
	wait_job_state "$j" CANCELLED 20
	wait_ledger_clear "$j" 20
	assert_no_drain
	ok "scancel of running srun job $j: srun exited ${BG_RC[s]}, its GPU came back"
}

# Slow: Slurm checks time limits about every 30 s, so a -t 1 job ends after 60-90 s.
scenario_timeout() {
	local j t0
	j=$(sbatch --parsable -t 1 -w n3 --gpu-slots=2 -o "$W"/b.out --wrap "$W/report batch; sleep 300") ||
		fail "sbatch failed"
	wait_reports "$W"/b.out 1 30 >/dev/null
	check_reports "$W"/b.out
	t0=$SECONDS
	wait_job_state "$j" TIMEOUT 150
	note "job $j reached its time limit after $((SECONDS - t0)) s running"
	wait_ledger_clear "$j" 30
	assert_no_drain
	ok "job $j hit its time limit; its GPUs came back"
}

# A step runs on its job's slots. One that asks for others is refused with the reason, by srun
# itself; the job's reservation, made from the job's own values on every node, stays as it is.
# With PrologFlags=Alloc the node refuses it too, should a user get past srun's check (here by
# faking the variable srun checks against). Without Alloc a node's prolog runs when the job's
# first step starts there and sizes the reservation by that step's values, which is why the
# README requires Alloc; the faked case is not run there.
scenario_step_slots() {
	local j alloc=0
	[[ ",$PROLOG_FLAGS," == *,Alloc,* ]] && alloc=1
	local fake="SLURM_SPANK__SLURM_SPANK_OPTION_gpuslots_gpu_slots=2 srun -N2 --gpu-slots=2 $W/report faked-step"
	[ $alloc = 1 ] || fake="echo not-faked"
	j=$(sbatch --parsable -N2 -w n2,n3 --gpu-slots=1 -o "$W"/b.out --wrap \
		"srun -N2 --gpu-slots=2 $W/report wrong-step; echo STEP_RC=\$?; $fake; echo FAKED_RC=\$?; srun -N2 $W/report right-step hold") ||
		fail "sbatch failed"
	wait_reports "$W"/b.out 2 60 >/dev/null
	expect_grep "$W"/b.out "gpuslots: this step asks for --gpu-slots=2, but job $j was submitted with --gpu-slots=1; a step runs on its job's slots" \
		"srun's refusal of the step"
	expect_grep "$W"/b.out "^STEP_RC=[1-9]" "the refused step's exit status"
	if [ $alloc = 1 ]; then
		expect_grep "$W"/b.out "gpuslots: job $j cannot run: this step asks for --gpu-slots=2, but job $j holds 1 GPU and 0 CPUs on n[23]; a step runs on its job's slots" \
			"the node's refusal of the faked step"
		expect_grep "$W"/b.out "^FAKED_RC=[1-9]" "the faked step's exit status"
	fi
	expect_eq "$(reports "$W"/b.out | grep -c -E 'label=(wrong|faked)-step')" 0 "tasks of the refused steps that ran"
	expect_eq "$(ledger_nodes "$j")" "n2 n3" "nodes where job $j holds a reservation"
	expect_eq "$(gpu_count "$(ledger_gpus n2 "$j")")|$(gpu_count "$(ledger_gpus n3 "$j")")" "1|1" \
		"GPUs of job $j on n2 and n3 (the job's --gpu-slots=1, not the step's 2)"
	check_reports "$W"/b.out
	release_job "$j"
	wait_job_ended "$j" 30
	expect_eq "$(job_state "$j")" COMPLETED "state of job $j"
	wait_ledger_clear "$j" 20
	assert_no_drain
	ok "a step asking for --gpu-slots=2 in a job of 1 is refused$([ $alloc = 1 ] && echo ' by srun and by the node'); the job keeps 1 GPU on each node"
}
