# What is refused, by whom, and what it costs: bad option values (the submit command refuses,
# no job), slots taken behind Slurm's back (the job fails, the node stays), bad plugstack
# arguments (srun refuses to run). A broken config is not a node fault: see recovery.sh.

# expect_refused_submission WHAT OPTION RANGE FILE_PREFIX COMMAND...: COMMAND must fail by
# itself, naming the option and the allowed range, and create no job.
expect_refused_submission() {
	local what=$1 option=$2 range=$3 out=$W/$4
	shift 4
	local before rc
	before=$(all_job_ids)
	timeout 30 "$@" >"$out.out" 2>"$out.err" </dev/null
	rc=$?
	[ $rc != 0 ] || fail "$what: exited 0; expected a refusal"
	[ $rc != 124 ] || fail "$what: still running after 30 s; expected an immediate refusal"
	expect_grep "$out.err" "gpuslots: $option: .*allowed: $range" "$what: the message"
	expect_no_grep "$out.err" "(queued|allocated resources|Granted job allocation|Submitted batch job)" "$what"
	expect_eq "$(all_job_ids)" "$before" "$what: jobs known to Slurm"
	note "$what: refused (exit $rc): $(grep -m1 "gpuslots: $option" "$out.err")"
}

scenario_invalid_options() {
	local max_gpus=0 g value i=0 cmd
	for g in ${GPUS//,/ }; do [ "$g" -gt $max_gpus ] && max_gpus=$g; done
	local gpus_range="1\\.\\.$max_gpus" cpus_range="0\\.\\.$CPUS"
	for value in abc 0 $((max_gpus + 1)) -1 2x ""; do
		i=$((i + 1))
		expect_refused_submission "srun --gpu-slots='$value'" --gpu-slots "$gpus_range" "srun$i" \
			srun -w n1 --gpu-slots="$value" true
		expect_refused_submission "sbatch --gpu-slots='$value'" --gpu-slots "$gpus_range" "sbatch$i" \
			sbatch -w n1 --gpu-slots="$value" -o /dev/null --wrap true
		expect_refused_submission "salloc --gpu-slots='$value'" --gpu-slots "$gpus_range" "salloc$i" \
			salloc -w n1 --gpu-slots="$value" true
		printf '#!/bin/bash\n#SBATCH --gpu-slots=%s\ntrue\n' "$value" >"$W/script$i.sh"
		expect_refused_submission "#SBATCH --gpu-slots='$value'" --gpu-slots "$gpus_range" "script$i" \
			sbatch -w n1 -o /dev/null "$W/script$i.sh"
	done
	for value in abc $((CPUS + 1)); do
		for cmd in srun salloc; do
			expect_refused_submission "$cmd --cpu-slots='$value'" --cpu-slots "$cpus_range" "$cmd-cpu-$value" \
				$cmd -w n1 --cpu-slots="$value" true
		done
		expect_refused_submission "sbatch --cpu-slots='$value'" --cpu-slots "$cpus_range" "sbatch-cpu-$value" \
			sbatch -w n1 --cpu-slots="$value" -o /dev/null --wrap true
	done
	ok "bad --gpu-slots/--cpu-slots values refused by srun, sbatch, #SBATCH and salloc; no job created"
	# The boundaries themselves are accepted.
	local j
	j=$(sbatch --parsable -w n2 --gpu-slots=1 --cpu-slots=0 -o "$W"/min.out --wrap "$W/report min") ||
		fail "sbatch --gpu-slots=1 --cpu-slots=0 was refused"
	wait_job_ended "$j" 30
	expect_eq "$(job_state "$j")" COMPLETED "state of job $j (--gpu-slots=1 --cpu-slots=0)"
	srun -w n2 --gpu-slots="$max_gpus" --cpu-slots="$CPUS" "$W"/report max >"$W"/max.out 2>"$W"/max.err ||
		fail "srun --gpu-slots=$max_gpus --cpu-slots=$CPUS on n2 failed: $(cat "$W"/max.err)"
	expect_eq "$(gpu_count "$(field "$(reports "$W"/max.out)" cvd)")" "$max_gpus" "GPUs seen with --gpu-slots=$max_gpus"
	ok "the limits themselves (1 and $max_gpus GPUs, 0 and $CPUS CPUs) are accepted"
}

scenario_refusal() {
	# n1 (2 GPUs) is taken by hand where Slurm cannot see it (a config in which Slurm does not
	# schedule n1): Slurm starts jobs there, which wait 1 s in the prolog, then fail.
	conf_set_prolog_wait 1
	local n1_gpus j
	n1_gpus=$(ledger_gpus_total n1)
	book_n1_behind_slurm it-by-hand

	srun -w n1 -J it-refused-srun --gpu-slots=1 "$W"/report srun >"$W"/srun.out 2>"$W"/srun.err
	local rc=$?
	[ $rc != 0 ] || fail "srun on a full n1 exited 0"
	expect_refusal "$W"/srun.err "[0-9]+" n1 1
	j=$(sed -n 's/.*gpuslots: job \([0-9]*\) cannot run.*/\1/p' "$W"/srun.err | head -1)
	expect_eq "$(report_count "$W"/srun.out)" 0 "tasks of refused job $j that ran"
	wait_job_ended "$j" 20
	expect_eq "$(job_state "$j")" FAILED "state of refused srun job $j"
	wait_ledger_clear "$j" 20
	assert_no_drain
	ok "srun job $j refused: exit $rc, '$(grep -m1 -o 'gpuslots: job.*' "$W"/srun.err)', FAILED, node in service"

	j=$(sbatch --parsable -w n1 --gpu-slots=1 -o "$W"/sbatch.out --wrap "$W/report batch; srun $W/report step") ||
		fail "sbatch failed"
	wait_job_ended "$j" 40
	expect_eq "$(job_state "$j")" FAILED "state of refused sbatch job $j"
	expect_refusal "$W"/sbatch.out "$j" n1 1
	expect_eq "$(report_count "$W"/sbatch.out)" 0 "batch script lines of refused job $j that ran"
	wait_ledger_clear "$j" 20
	assert_no_drain
	ok "sbatch job $j refused: FAILED, the reason in its output file, node in service"

	release_behind_slurm it-by-hand
	# More GPUs than n1 has at all (but within the allowed range): Slurm refuses it at
	# submission, since n1 has fewer gpuslots; the job record it makes is FAILED at once
	# (BadConstraints) and never starts.
	if [ "$n1_gpus" -lt "$(query max_gpus)" ]; then
		local before new
		before=$(all_job_ids)
		srun -w n1 --gpu-slots=$((n1_gpus + 1)) true >"$W"/toomany.out 2>"$W"/toomany.err &&
			fail "srun --gpu-slots=$((n1_gpus + 1)) on n1 ($n1_gpus GPUs) exited 0"
		expect_grep "$W"/toomany.err "Requested node configuration is not available" "srun's stderr"
		for new in $(comm -13 <(tr ' ' '\n' <<<"$before" | sort) <(all_job_ids | tr ' ' '\n' | sort)); do
			expect_eq "$(job_state "$new")/$(job_field "$new" Reason)/$(job_field "$new" RunTime)" \
				"FAILED/BadConstraints/00:00:00" "the refused request's job record $new"
		done
		ok "a request larger than n1 itself is refused at submission: $(grep -m1 -o 'error: .*' "$W"/toomany.err)"
	fi

	# The node is fine: the next job there gets all its GPUs.
	srun -w n1 --gpu-slots="$n1_gpus" "$W"/report after >"$W"/after.out 2>"$W"/after.err ||
		fail "srun on n1 after the refusals failed: $(cat "$W"/after.err)"
	expect_eq "$(gpu_count "$(field "$(reports "$W"/after.out)" cvd)")" "$n1_gpus" "GPUs of the next job on n1"
	assert_no_drain
	# srun returns when its step ends; the job's epilog may still be running.
	j=$(field "$(reports "$W"/after.out)" job)
	[ -n "$j" ] || fail "no job id in $W/after.out"
	wait_ledger_clear "$j" 20
	expect_eq "$(ledger_task_count)" 0 "reservations left"
	ok "n1 serves the next job normally"
}
ledger_gpus_total() { query gpus_total "$1"; }

scenario_plugstack_args() {
	# The plugin is `required`: a bad argument makes every command that loads it refuse. Only
	# the submit side is changed here (its own slurm.conf copy), the daemons keep theirs.
	local bad before
	sed "s|^PlugStackConfig=.*|PlugStackConfig=$W/plugstack.conf|" "$SLURM_CONF" >"$W"/slurm.conf
	# Each bad argument, and what the message must contain.
	local -A says=(["conf=/x"]="'conf=/x'" ["config=relative.yaml"]="config=.*'relative.yaml'"
		["config"]="'config'" ["config=$GPUSLOTS_CONFIG config=$GPUSLOTS_CONFIG"]="config=.*twice")
	for bad in "${!says[@]}"; do
		echo "required $CLUSTER_DIR/lib/gpuslots.so $bad" >"$W"/plugstack.conf
		before=$(all_job_ids)
		SLURM_CONF=$W/slurm.conf timeout 30 srun -w n1 true >"$W"/srun.out 2>"$W"/srun.err &&
			fail "srun with plugstack argument '$bad' exited 0"
		expect_grep "$W"/srun.err "gpuslots: init: plugstack.conf: .*${says[$bad]}" "srun's message for '$bad'"
		SLURM_CONF=$W/slurm.conf timeout 30 sbatch -w n1 -o /dev/null --wrap true >"$W"/sbatch.out 2>"$W"/sbatch.err &&
			fail "sbatch with plugstack argument '$bad' exited 0"
		expect_grep "$W"/sbatch.err "gpuslots: init: plugstack.conf: .*${says[$bad]}" "sbatch's message for '$bad'"
		expect_eq "$(all_job_ids)" "$before" "jobs known to Slurm after '$bad'"
		note "'$bad': $(grep -m1 -o 'gpuslots: init: .*' "$W"/srun.err)"
	done
	ok "unknown or malformed plugstack arguments: srun and sbatch refuse to run, naming the argument"
}
