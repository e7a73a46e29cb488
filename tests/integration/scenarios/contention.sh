# More jobs than GPUs, all at once, on n1 (2 GPUs). Slurm knows nothing of GPU slots, so it
# starts them all together (1 CPU each, n1 has 8); the prologs queue on the ledger.

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
	# Long enough for most jobs to get their turn, below Slurm's limits for a prolog
	# (BatchStartTimeout 10 s, 2 x MessageTimeout 20 s).
	conf_set_prolog_wait 6
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

	# While they run: no node drained, ledger consistent. All in bounded time.
	local end=$((SECONDS + 120)) running max_running=0 all_ended
	while :; do
		assert_no_drain
		ledger_consistent
		running=0
		all_ended=1
		for j in "${jobs[@]}"; do
			case "$(job_state "$j")" in
			RUNNING)
				running=$((running + 1))
				all_ended=0
				;;
			COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL) ;;
			*) all_ended=0 ;;
			esac
		done
		[ $running -gt $max_running ] && max_running=$running
		[ $all_ended = 1 ] && break
		[ $SECONDS -lt $end ] || fail "jobs still not ended after 120 s: $(squeue -h -o '%i %T %r')"
		sleep 0.2
	done
	for i in 0 1; do bg_wait "srun$i" 30; done
	note "all ended; at most $max_running of ${#jobs[@]} were RUNNING at once"

	local completed=0 refused=0 state
	for i in "${!jobs[@]}"; do
		j=${jobs[$i]}
		state=$(job_state "$j")
		# srun's stderr is a separate file; the batch job's stderr is in its output file.
		cat "${out[$i]}" "${out[$i]%.out}.err" 2>/dev/null >"$W/job$j.all"
		expect_no_grep "$W/job$j.all" VIOLATION "job $j"
		case "$state" in
		COMPLETED)
			expect_grep "$W/job$j.all" "^GOT job=$j node=n1 gpus=[0-9,]+ " "job $j output"
			expect_grep "$W/job$j.all" "^DONE job=$j " "job $j output"
			completed=$((completed + 1))
			;;
		FAILED)
			expect_refusal "$W/job$j.all" "$j" n1 6
			expect_no_grep "$W/job$j.all" "^GOT " "job $j, refused, but its task ran"
			refused=$((refused + 1))
			;;
		*) fail "job $j ended $state; expected COMPLETED, or FAILED with the refusal message" ;;
		esac
	done
	note "$completed completed, $refused refused after waiting 6 s"
	[ $completed -ge 2 ] || fail "only $completed of ${#jobs[@]} jobs completed; the prolog should have let at least two through"

	for j in "${jobs[@]}"; do wait_ledger_clear "$j" 20; done
	expect_eq "$(ledger_task_count)" 0 "reservations left in the ledger"
	expect_eq "$(find "$W"/marks -mindepth 1 -maxdepth 1 | wc -l)" 0 "GPU claims left in $W/marks"
	assert_no_drain
	ok "${#jobs[@]} jobs for 2 GPUs: never two on one GPU, $completed completed, $refused refused with the message, no drain, ledger empty"
}
