# Slurm's own gres/gpu manages the GPUs (the `follow` cluster: fake device files, `slurm:
# follow`, job_submit.lua maps --gpu-slots to gres:gpu). gpuslots follows Slurm's choice: a
# native --gres=gpu job and a --gpu-slots job both get the GPUs Slurm picked, in Slurm's own
# variables, and the ledger records exactly those, so a manual booking takes the GPUs that are
# really free and the next job waits for them.

# cvd_of FILE LABEL: the CUDA_VISIBLE_DEVICES a REPORT line of LABEL saw.
cvd_of() { field "$(reports "$1" | grep "label=$2 " | head -1)" cvd; }

scenario_native_gres() {
	bg a srun -w n1 -J it-native --gres=gpu:2 "$W"/report native hold
	local ja jb jc ga gb gc
	ja=$(wait_reports "$W"/a.out 1 30)
	ga=$(cvd_of "$W"/a.out native)
	expect_eq "$(gpu_count "$ga")" 2 "GPUs Slurm gave native job $ja (its CUDA_VISIBLE_DEVICES)"
	expect_eq "$(ledger_gpus n1 "$ja")" "$ga" "the ledger's record of native job $ja"
	ok "native --gres=gpu:2 job $ja keeps Slurm's GPUs [$ga], recorded exactly"

	bg b srun -w n1 -J it-follow --gpu-slots=1 --cpu-slots=2 "$W"/report slots hold
	jb=$(wait_reports "$W"/b.out 1 30)
	gb=$(cvd_of "$W"/b.out slots)
	expect_eq "$(job_field "$jb" TresPerNode)" "gres:gpu:1,gres:cpuslots:2" "Slurm's GRES of job $jb"
	expect_eq "$(ledger_gpus n1 "$jb")" "$gb" "the ledger's record of --gpu-slots job $jb"
	expect_eq "$(ledger_cpus n1 "$jb")" 2 "CPUs of job $jb"
	expect_eq "$(echo "$ga,$gb" | tr ',' '\n' | sort -u | wc -l)" 3 "distinct GPUs of jobs $ja [$ga] and $jb [$gb]"
	ok "--gpu-slots=1 job $jb: Slurm's gres/gpu picked [$gb], the ledger follows"

	# A manual booking takes the GPU Slurm gives its holder job: the last free one.
	cli allocate it-follow-book 1 0 --server n1 >"$W"/allocate.out 2>&1 ||
		fail "gpuslots allocate on n1 failed: $(cat "$W"/allocate.out)"
	gc=$(sed -n 's/^allocated it-follow-book on n1: GPUs \[\([0-9]*\)\] and .*/\1/p' "$W"/allocate.out)
	[ -n "$gc" ] || fail "allocate's output: $(cat "$W"/allocate.out)"
	expect_eq "$(echo "$ga,$gb,$gc" | tr ',' '\n' | sort -u | wc -l)" 4 "distinct GPUs of the two jobs and the booking [$gc]"
	ledger_consistent
	# n1 is full now, in Slurm's eyes too: the next GPU job waits.
	jc=$(sbatch --parsable -w n1 --gres=gpu:1 -o "$W"/c.out --wrap "$W/report batch; srun $W/report step") ||
		fail "sbatch failed"
	wait_until 20 "job $jc to wait for Resources" eval '[ "$(job_field '"$jc"' Reason)" = Resources ]'
	ok "booking it-follow-book holds GPU [$gc] through its holder; job $jc waits for Resources"

	release_job "$ja"
	bg_wait a 30
	expect_eq "${BG_RC[a]}" 0 "srun exit status (job $ja)"
	wait_job_ended "$jc" 40
	expect_eq "$(job_state "$jc")" COMPLETED "state of job $jc"
	expect_eq "$(reports "$W"/c.out | grep -c "cvd=[0-9]")" 2 "batch script and step of job $jc seeing a GPU"
	release_job "$jb"
	bg_wait b 30
	cli release it-follow-book >/dev/null || fail "gpuslots release failed"
	for j in "$ja" "$jb" "$jc"; do wait_ledger_clear "$j" 20; done
	expect_eq "$(ledger_task_count)" 0 "reservations left"
	expect_eq "$(squeue -h -n gpuslots-hold:it-follow-book -o %i)" "" "holder jobs left"
	assert_no_drain
	ok "native and --gpu-slots jobs ran on Slurm's GPUs; all released"

	cli check-config >"$W"/check.out 2>"$W"/check.err || fail "check-config: $(cat "$W"/check.err)"
	expect_grep "$W"/check.out "0 server\(s\) scheduled by the slots, 2 following gres/gpu; they match slurmctld; job_submit mapping active" "check-config"
}
