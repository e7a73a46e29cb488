# What jobs see: srun, sbatch (script, #SBATCH lines, steps), salloc, jobs without options,
# and `gpuslots status` while they run.

scenario_srun_env() {
	# Two jobs at once on n2 (4 GPUs): each gets 2 GPUs, and not the same ones.
	bg a srun -w n2 -J it-srun-a --gpu-slots=2 --cpu-slots=2 "$W"/report srun-a hold
	bg b srun -w n2 -J it-srun-b --gpu-slots=2 --cpu-slots=1 "$W"/report srun-b hold
	local ja jb ga gb
	ja=$(wait_reports "$W"/a.out 1 30)
	jb=$(wait_reports "$W"/b.out 1 30)
	check_reports "$W"/a.out "$W"/b.out
	ga=$(ledger_gpus n2 "$ja")
	gb=$(ledger_gpus n2 "$jb")
	expect_eq "$(gpu_count "$ga")" 2 "GPUs of job $ja"
	expect_eq "$(gpu_count "$gb")" 2 "GPUs of job $jb"
	expect_eq "$(echo "$ga,$gb" | tr ',' '\n' | sort -u | wc -l)" 4 \
		"distinct GPUs of jobs $ja [$ga] and $jb [$gb]"
	expect_eq "$(ledger_cpus n2 "$ja")" 2 "CPUs of job $ja"
	expect_eq "$(ledger_cpus n2 "$jb")" 1 "CPUs of job $jb"
	expect_eq "$(ledger_nodes "$ja")" n2 "nodes of job $ja"
	ok "srun jobs $ja [$ga] and $jb [$gb] see exactly their own GPUs"
	release_job "$ja"
	release_job "$jb"
	bg_wait a 30
	bg_wait b 30
	expect_eq "${BG_RC[a]}" 0 "srun exit status of job $ja"
	expect_eq "${BG_RC[b]}" 0 "srun exit status of job $jb"
	wait_job_state "$ja" COMPLETED 20
	wait_ledger_clear "$ja" 20
	wait_ledger_clear "$jb" 20
	assert_no_drain
	ok "both released after the end"
}

scenario_sbatch_env() {
	# Options in #SBATCH lines; the batch script and each step (one of two tasks) see the same.
	cat >"$W"/job.sh <<-JOB
		#!/bin/bash
		#SBATCH --gpu-slots=3
		#SBATCH --cpu-slots=2
		"$W"/report batch
		srun -n1 "$W"/report step0
		srun -n2 "$W"/report step1
		srun -n1 "$W"/report step2 hold
	JOB
	local j
	j=$(sbatch --parsable -w n3 -n2 -o "$W"/sbatch.out "$W"/job.sh) || fail "sbatch failed"
	wait_reports "$W"/sbatch.out 5 40 >/dev/null
	check_reports "$W"/sbatch.out
	expect_eq "$(gpu_count "$(ledger_gpus n3 "$j")")" 3 "GPUs of job $j"
	expect_eq "$(ledger_cpus n3 "$j")" 2 "CPUs of job $j"
	ok "batch script and 3 steps of job $j see GPUs [$(ledger_gpus n3 "$j")]"
	release_job "$j"
	wait_job_ended "$j" 30
	expect_eq "$(job_state "$j")" COMPLETED "state of job $j"
	wait_ledger_clear "$j" 20

	# The same with the options on the command line and --wrap.
	j=$(sbatch --parsable -w n1 --gpu-slots=1 -o "$W"/wrap.out \
		--wrap "$W/report wrap; srun $W/report wrap-step hold") || fail "sbatch --wrap failed"
	wait_reports "$W"/wrap.out 2 40 >/dev/null
	check_reports "$W"/wrap.out
	release_job "$j"
	wait_job_ended "$j" 30
	expect_eq "$(job_state "$j")" COMPLETED "state of job $j"
	wait_ledger_clear "$j" 20
	assert_no_drain
	ok "sbatch jobs released after the end"
}

scenario_salloc_env() {
	bg s salloc -w n1 -J it-salloc --gpu-slots=1 --cpu-slots=1 srun -n1 "$W"/report salloc-step hold
	local j
	j=$(wait_reports "$W"/s.out 1 30)
	check_reports "$W"/s.out
	ok "salloc's step in job $j sees GPU [$(ledger_gpus n1 "$j")]"
	release_job "$j"
	bg_wait s 30
	expect_eq "${BG_RC[s]}" 0 "salloc exit status (job $j)"
	wait_ledger_clear "$j" 20

	# salloc without a step: the prolog runs at allocation only with PrologFlags=Alloc.
	bg n salloc -w n1 -J it-salloc-nostep --gpu-slots=1 bash -c \
		"echo ALLOCATED \$SLURM_JOB_ID; until [ -e $W/go.\$SLURM_JOB_ID ]; do sleep 0.1; done"
	wait_until 30 "salloc to get its allocation" grep -q ALLOCATED "$W"/n.out
	j=$(sed -n 's/^ALLOCATED //p' "$W"/n.out)
	wait_job_state "$j" RUNNING 10
	if [[ ",$PROLOG_FLAGS," == *,Alloc,* ]]; then
		wait_ledger_has "$j" n1 20
		ok "PrologFlags=Alloc: salloc without a step holds GPU [$(ledger_gpus n1 "$j")]"
	else
		expect_eq "$(ledger_nodes "$j")" "" \
			"reservations of salloc job $j without a step (no prolog without Alloc)"
		ok "PrologFlags unset: salloc without a step reserves nothing (no prolog runs)"
	fi
	release_job "$j"
	bg_wait n 30
	expect_eq "${BG_RC[n]}" 0 "salloc exit status (job $j)"
	wait_ledger_clear "$j" 20
	assert_no_drain
}

# The ledger as the scenario compares it: per server, free counts and tasks.
ledger_snapshot() { query snapshot; }

# step_settings_ready NODE: the step settings (gpuslots/step_settings.h) up to date for the config
# as it is now, so that a step of a job without options on NODE takes the fast path: any step
# there that loads the core (the config changed since they were written) writes them.
step_settings_ready() {
	srun -w "$1" true >/dev/null || fail "srun -w $1 true failed"
	[ -f "$CLUSTER_DIR"/records/step-settings ] ||
		fail "no step settings in $CLUSTER_DIR/records after a step on $1"
}
fast_step_line() { # JOB NODE: slurmstepd's line for a step set up without the core
	echo "gpuslots: init_post_opt: job $1 on $2: no reservation .GPUs $3; from the step settings"
}

scenario_no_options() {
	local before j line v
	before=$(ledger_snapshot)
	bg s srun -w n1 -J it-noopt "$W"/report no-options hold
	j=$(wait_reports "$W"/s.out 1 30)
	line=$(reports "$W"/s.out)
	for v in cvd rocr ze gdo; do
		expect_eq "$(field "$line" $v)" "" "job $j without options: $v (set, but empty)"
	done
	expect_eq "$(ledger_snapshot)" "$before" "ledger while job $j runs"
	release_job "$j"
	bg_wait s 30
	expect_eq "${BG_RC[s]}" 0 "srun exit status (job $j)"
	ok "srun job $j without options ran and saw CUDA_VISIBLE_DEVICES set but empty"

	step_settings_ready n1
	j=$(sbatch --parsable -w n1 -o "$W"/sbatch.out --wrap "$W/report batch; srun $W/report step") ||
		fail "sbatch failed"
	wait_job_ended "$j" 30
	expect_eq "$(job_state "$j")" COMPLETED "state of job $j"
	expect_eq "$(reports "$W"/sbatch.out | grep -c ' cvd= rocr= ze= gdo=$')" 2 \
		"REPORT lines of job $j (batch and step) with the four variables set but empty"
	# Once its epilog has run (the job left COMPLETING) the ledger is exactly as before.
	wait_until 20 "job $j to leave COMPLETING" eval '[ -z "$(squeue -h -j '"$j"' 2>/dev/null)" ]'
	expect_eq "$(ledger_snapshot)" "$before" "ledger after job $j"
	expect_grep "$CLUSTER_DIR"/log/slurmd.n1.log "gpuslots: job_prolog: job $j: no slots asked for" \
		"prolog log line"
	# Neither step loaded the core: the batch step and the srun step hid the GPUs from the
	# step settings (nothing of the job in the record directory, the config unchanged).
	expect_eq "$(grep -Ec -- "$(fast_step_line "$j" n1 hidden)" "$CLUSTER_DIR"/log/slurmd.n1.log)" 2 \
		"slurmstepd lines of job $j's two steps set up from the step settings"
	assert_no_drain
	ok "sbatch job $j without options: batch and step see no GPU, ledger untouched, no core loaded"
}

scenario_status_shows_jobs() {
	bg a srun -w n1 -J it-status-a --gpu-slots=1 "$W"/report a hold
	local ja jb
	ja=$(wait_reports "$W"/a.out 1 30)
	jb=$(sbatch --parsable -w n2 --gpu-slots=2 --cpu-slots=3 -o "$W"/b.out --wrap "$W/report b hold") ||
		fail "sbatch failed"
	wait_reports "$W"/b.out 1 30 >/dev/null
	cli status >"$W"/status.txt || fail "gpuslots status failed"
	expect_grep "$W"/status.txt "^n1 .* job:$ja( |\$)" "status table, n1"
	expect_grep "$W"/status.txt "^n2 .* job:$jb( |\$)" "status table, n2"
	expect_grep "$W"/status.txt "^n2 +2/4 +50% +5/8 " "status table, n2's free GPUs and CPUs"
	expect_eq "$(query task n2 "$jb")" "slurm 2 3 root" "status --json, job $jb on n2"
	expect_eq "$(query tasks)" 2 "status --json totals.tasks"
	ok "gpuslots status shows job:$ja on n1 and job:$jb on n2"
	release_job "$ja"
	release_job "$jb"
	bg_wait a 30
	wait_job_ended "$jb" 30
	wait_ledger_clear "$ja" 20
	wait_ledger_clear "$jb" 20
	cli status >"$W"/status-after.txt
	expect_no_grep "$W"/status-after.txt "job:" "status after the jobs ended"
}

# conf_add_slurm_line LINE: one more setting in the config's slurm section (cluster.sh writes
# it last), for this scenario only.
conf_add_slurm_line() {
	conf_backup
	[ "$(grep -E '^[a-z_]+:' "$GPUSLOTS_CONFIG" | tail -1)" = "slurm:" ] ||
		fail "the last section of $GPUSLOTS_CONFIG is not slurm:"
	{
		cat "$GPUSLOTS_CONFIG"
		echo "  $1"
	} >"$GPUSLOTS_CONFIG.tmp" && mv "$GPUSLOTS_CONFIG.tmp" "$GPUSLOTS_CONFIG"
}

scenario_env_settings() {
	# CPU slots only: the CPUs are booked, the job sees no GPU.
	bg c srun -w n3 -J it-cpu-only --cpu-slots=3 "$W"/report cpu-only hold
	local j line
	j=$(wait_reports "$W"/c.out 1 30)
	line=$(reports "$W"/c.out)
	expect_eq "$(ledger_cpus n3 "$j")" 3 "CPUs of job $j"
	expect_eq "$(ledger_gpus n3 "$j")" "" "GPUs of job $j"
	expect_eq "$(field "$line" cvd)|$(field "$line" rocr)" "|" "GPU variables of CPU-only job $j"
	release_job "$j"
	bg_wait c 30
	expect_eq "${BG_RC[c]}" 0 "srun exit status (job $j)"
	wait_ledger_clear "$j" 20
	ok "--cpu-slots alone: job $j holds 3 CPUs and sees no GPU"

	# A site that sets only ROCR_VISIBLE_DEVICES and does not hide GPUs from other jobs. Its
	# steps took the fast path with the old settings: the edit must be seen at once.
	step_settings_ready n1
	bg h srun -w n1 -J it-fast-before "$W"/report fast-before hold
	j=$(wait_reports "$W"/h.out 1 30)
	expect_eq "$(field "$(reports "$W"/h.out)" cvd)" "" "CUDA_VISIBLE_DEVICES of job $j without options"
	expect_grep "$CLUSTER_DIR"/log/slurmd.n1.log "$(fast_step_line "$j" n1 hidden)" \
		"job $j's step set up from the step settings"
	release_job "$j"
	bg_wait h 30
	conf_add_slurm_line "hide_gpus_without_reservation: false"
	conf_add_slurm_line "visible_devices_env: [ROCR_VISIBLE_DEVICES]"
	env CUDA_VISIBLE_DEVICES=7 srun -w n1 "$W"/report untouched >"$W"/u.out 2>"$W"/u.err ||
		fail "srun without options failed: $(cat "$W"/u.err)"
	line=$(reports "$W"/u.out)
	expect_eq "$(field "$line" cvd)|$(field "$line" rocr)" "7|UNSET" \
		"without options and hide_gpus_without_reservation: false, the job's own variables"
	bg g env -u CUDA_VISIBLE_DEVICES srun -w n1 -J it-rocr-only --gpu-slots=2 "$W"/report rocr-only hold
	j=$(wait_reports "$W"/g.out 1 30)
	line=$(reports "$W"/g.out)
	expect_eq "$(field "$line" rocr)" "$(ledger_gpus n1 "$j")" "ROCR_VISIBLE_DEVICES of job $j"
	expect_eq "$(field "$line" cvd)|$(field "$line" ze)|$(field "$line" gdo)" "UNSET|UNSET|UNSET" \
		"the variables not listed in visible_devices_env, job $j"
	release_job "$j"
	bg_wait g 30
	wait_ledger_clear "$j" 20
	ok "visible_devices_env and hide_gpus_without_reservation are honoured"
}
