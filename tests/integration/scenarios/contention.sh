# More jobs than GPUs, all at once, on n1 (2 GPUs). Slurm counts the slots (the GRES and the
# job_submit mapping), so the excess waits in Slurm's queue and every job completes; Slurm alone
# would start them all together (1 CPU each, n1 has 8). And the prolog's bounded wait, the
# safety net for slots that are taken without Slurm knowing.

# The job: claim each GPU it was given with mkdir (atomic: fails when another running job holds
# the same index), hold them a moment, give them back. Independent of the ledger.
make_contend_script() {
	mkdir -p "$W"/marks
	cat >"$W"/contend <<-EOF
		#!/bin/bash
		# contend WANT: hold the GPUs in CUDA_VISIBLE_DEVICES for 1 s
		want=\$1 node=\$SLURMD_NODENAME job=\$SLURM_JOB_ID marks=$W/marks
		echo "GOT job=\$job node=\$node gpus=\${CUDA_VISIBLE_DEVICES-UNSET} at \$EPOCHREALTIME"
		IFS=, read -r -a gpus <<<"\${CUDA_VISIBLE_DEVICES:-}"
		[ "\${#gpus[@]}" = "\$want" ] ||
			echo "VIOLATION job \$job: asked for \$want GPUs, got '\${CUDA_VISIBLE_DEVICES-UNSET}'"
		held=()
		for g in "\${gpus[@]}"; do
			if mkdir "\$marks/\$node-gpu\$g" 2>/dev/null; then
				echo "\$job" >"\$marks/\$node-gpu\$g/owner"
				held+=("\$g")
			else
				echo "VIOLATION job \$job: GPU \$g of \$node is held by job \$(cat "\$marks/\$node-gpu\$g/owner" 2>/dev/null)"
			fi
		done
		sleep 1
		for g in "\${held[@]}"; do rm -rf "\$marks/\$node-gpu\$g"; done
		echo "DONE job=\$job at \$EPOCHREALTIME"
	EOF
	chmod 0755 "$W"/contend
}

scenario_contention() {
	make_contend_script
	local sizes=(1 2 1 1 2) jobs=() want=() out=() i j
	for i in "${!sizes[@]}"; do
		j=$(sbatch --parsable -w n1 -n1 -c1 -J it-contend -o "$W/sbatch$i.out" \
			--gpu-slots="${sizes[$i]}" "$W"/contend "${sizes[$i]}") || fail "sbatch $i failed"
		jobs+=("$j")
		want+=("${sizes[$i]}")
		out+=("$W/sbatch$i.out")
	done
	for i in 0 1; do
		bg "srun$i" srun -w n1 -n1 -c1 -J it-contend-srun$i --gpu-slots=1 "$W"/contend 1
	done
	note "submitted sbatch jobs ${jobs[*]} (GPUs ${sizes[*]}) and 2 srun jobs of 1 GPU, all on n1 (2 GPUs)"

	# The srun jobs' ids.
	wait_until 30 "both srun jobs to be known to Slurm" eval \
		'[ "$(squeue -h -t all -n it-contend-srun0,it-contend-srun1 -o %i | wc -l)" = 2 ]'
	for i in 0 1; do
		jobs+=("$(squeue -h -t all -n "it-contend-srun$i" -o %i | head -1)")
		want+=(1)
		out+=("$W/srun$i.out")
	done

	# While they run: never more GPUs in use than n1 has, the rest waiting in the queue for
	# Resources; no node drained, ledger consistent. All in bounded time.
	local end=$((SECONDS + 120)) running gpus_running max_gpus=0 max_running=0 all_ended waited=0 k
	while :; do
		assert_no_drain
		ledger_consistent
		running=0
		gpus_running=0
		all_ended=1
		for k in "${!jobs[@]}"; do
			case "$(job_state "${jobs[$k]}")" in
			RUNNING)
				running=$((running + 1))
				gpus_running=$((gpus_running + want[k]))
				all_ended=0
				;;
			PENDING)
				[ "$(job_field "${jobs[$k]}" Reason)" = Resources ] && waited=1
				all_ended=0
				;;
			COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL) ;;
			*) all_ended=0 ;;
			esac
		done
		[ $gpus_running -le 2 ] || fail "jobs holding $gpus_running GPUs RUNNING at once on n1 (2 GPUs): $(squeue -h -n it-contend,it-contend-srun0,it-contend-srun1 -o '%i %T %b')"
		[ $running -gt $max_running ] && max_running=$running
		[ $gpus_running -gt $max_gpus ] && max_gpus=$gpus_running
		[ $all_ended = 1 ] && break
		[ $SECONDS -lt $end ] || fail "jobs still not ended after 120 s: $(squeue -h -o '%i %T %r')"
		sleep 0.2
	done
	for i in 0 1; do bg_wait "srun$i" 30; done
	note "all ended; at most $max_running of ${#jobs[@]} RUNNING at once, holding at most $max_gpus GPUs"
	[ $max_running -ge 1 ] || fail "no job was ever seen RUNNING"
	[ $waited = 1 ] || fail "no job ever waited in the queue for Resources: Slurm did not count n1's slots"

	local state
	for i in "${!jobs[@]}"; do
		j=${jobs[$i]}
		state=$(job_state "$j")
		# srun's stderr is a separate file; the batch job's stderr is in its output file.
		cat "${out[$i]}" "${out[$i]%.out}.err" 2>/dev/null >"$W/job$j.all"
		expect_no_grep "$W/job$j.all" VIOLATION "job $j"
		expect_no_grep "$W/job$j.all" "cannot run" "job $j"
		[ "$state" = COMPLETED ] || fail "job $j ended $state; with Slurm counting the slots every job completes"
		expect_grep "$W/job$j.all" "^GOT job=$j node=n1 gpus=[0-9,]+ " "job $j output"
		expect_grep "$W/job$j.all" "^DONE job=$j " "job $j output"
	done

	for j in "${jobs[@]}"; do wait_ledger_clear "$j" 20; done
	expect_eq "$(ledger_task_count)" 0 "reservations left in the ledger"
	expect_eq "$(find "$W"/marks -mindepth 1 -maxdepth 1 | wc -l)" 0 "GPU claims left in $W/marks"
	assert_no_drain
	ok "${#jobs[@]} jobs for 2 GPUs: all COMPLETED, the rest waited in Slurm's queue, at most $max_gpus GPUs in use, never two on one GPU, ledger empty"
}

scenario_safety_net() {
	# n1's GPUs booked where Slurm cannot see it (a config that does not let Slurm schedule n1:
	# the ledger only). Slurm starts the next job there; its prolog waits for the slots, and the
	# job runs once they are released: the prolog's bounded wait is the safety net.
	conf_set_prolog_wait 15
	local j
	book_n1_behind_slurm it-behind-slurm
	j=$(sbatch --parsable -w n1 --gpu-slots=1 -o "$W"/job.out --wrap "$W/report safety-net") || fail "sbatch failed"
	wait_until 30 "Slurm to start job $j (it does not know n1 is booked)" eval '[ "$(job_state '"$j"')" != PENDING ]'
	expect_eq "$(report_count "$W"/job.out)" 0 "lines of job $j's script while its prolog waits"
	expect_eq "$(ledger_nodes "$j")" "" "reservations of job $j while n1 is booked"
	note "job $j is $(job_state "$j") on n1, its prolog waiting; releasing the booking"
	release_behind_slurm it-behind-slurm
	wait_job_ended "$j" 40
	expect_eq "$(job_state "$j")" COMPLETED "state of job $j"
	expect_eq "$(report_count "$W"/job.out)" 1 "lines of job $j's script"
	expect_grep "$CLUSTER_DIR"/log/slurmd.n1.log "gpuslots: job_prolog: job $j on n1: reserved GPUs" "the prolog's log line"
	wait_ledger_clear "$j" 20
	assert_no_drain
	ok "slots taken behind Slurm's back: job $j's prolog waited for them and the job COMPLETED once they were released"
}
