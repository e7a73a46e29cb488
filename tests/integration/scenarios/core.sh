# The plugin's core (gpuslots-core.so, next to gpuslots.so) missing or broken: a job that does
# not use gpuslots never notices; srun/sbatch with the options stop and say why (plugin/entry.c).

# A submit side of its own (its own slurm.conf and plugstack.conf), loading gpuslots.so from
# DIR, where the scenario puts or breaks the core. The daemons keep theirs.
submit_side_from() { # DIR
	sed "s|^PlugStackConfig=.*|PlugStackConfig=$1/plugstack.conf|" "$SLURM_CONF" >"$1"/slurm.conf
	echo "required $1/gpuslots.so config=$GPUSLOTS_CONFIG" >"$1"/plugstack.conf
}

scenario_core_missing() {
	local d=$W/lib before j what
	mkdir -p "$d"
	cp "$CLUSTER_DIR"/lib/gpuslots.so "$d"/
	submit_side_from "$d"
	for what in missing broken; do
		[ $what = broken ] && echo "not a shared object" >"$d"/gpuslots-core.so
		before=$(all_job_ids)
		SLURM_CONF=$d/slurm.conf timeout 30 srun -w n1 true >"$W"/plain.out 2>"$W"/plain.err ||
			fail "srun without options, core $what: $(cat "$W"/plain.err)"
		SLURM_CONF=$d/slurm.conf timeout 30 srun -w n1 --gpu-slots=1 true >"$W"/srun.out 2>"$W"/srun.err &&
			fail "srun --gpu-slots=1 with the core $what exited 0"
		expect_grep "$W"/srun.err "gpuslots: option: cannot load the gpuslots core: .*gpuslots-core.so.*; reinstall gpuslots" \
			"srun's message, core $what"
		SLURM_CONF=$d/slurm.conf timeout 30 sbatch -w n1 -o /dev/null --cpu-slots=1 --wrap true \
			>"$W"/sbatch.out 2>"$W"/sbatch.err && fail "sbatch --cpu-slots=1 with the core $what exited 0"
		expect_grep "$W"/sbatch.err "gpuslots: option: cannot load the gpuslots core" "sbatch's message, core $what"
		note "core $what: $(grep -m1 -o 'gpuslots: option: .*' "$W"/srun.err)"
	done
	# Only the plain srun made a job: one per round.
	expect_eq "$(($(wc -w <<<"$(all_job_ids)") - $(wc -w <<<"$before")))" 1 "jobs queued in the last round"
	ok "core missing or broken: srun without options runs; srun and sbatch with them refuse, saying why"

	# On the node: the daemons' own plugin directory without the core, for one job.
	mv "$CLUSTER_DIR"/lib/gpuslots-core.so "$W"/core.saved
	j=$(sbatch --parsable -w n1 -o "$W"/batch.out --wrap "$W/report batch; srun $W/report step") || {
		mv "$W"/core.saved "$CLUSTER_DIR"/lib/gpuslots-core.so
		fail "sbatch failed"
	}
	poll_until 30 job_ended "$j"
	wait_until 20 "job $j to leave COMPLETING" eval '[ -z "$(squeue -h -j '"$j"' 2>/dev/null)" ]'
	mv "$W"/core.saved "$CLUSTER_DIR"/lib/gpuslots-core.so
	expect_eq "$(job_state "$j")" COMPLETED "state of job $j without options, the node's core missing"
	expect_eq "$(reports "$W"/batch.out | grep -c ' cvd= rocr= ze= gdo=$')" 2 \
		"REPORT lines of job $j (batch and step) with the four variables set but empty"
	# Its steps either tried to load the core and hid the GPUs without it, or needed no core
	# (the step settings were valid: plugin/entry.c); either way once per step.
	expect_eq "$(grep -Ec "gpuslots: init_post_opt: (cannot load the gpuslots core|job $j on n1: no reservation .GPUs hidden; from the step settings)" \
		"$CLUSTER_DIR"/log/slurmd.n1.log)" 2 "slurmstepd's log lines for job $j's two steps"
	assert_no_drain
	ok "node without the core: job $j without options ran, saw no GPU, and no node drained"
}
