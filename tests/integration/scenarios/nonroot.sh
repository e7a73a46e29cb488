# Jobs of an ordinary user (nobody): the privileged hooks still hand out the GPUs, the user
# reads the ledger with `gpuslots status` but cannot change it, and cannot steer the GPUs
# through the job's environment.

scenario_nonroot() {
	local f
	for f in "$SLURM_CONF" "$GPUSLOTS_CONFIG" "$CLUSTER_DIR"/lib/gpuslots.so "$W"/report; do
		as_nobody test -r "$f" ||
			skip "user nobody cannot read $f (a parent directory is closed?); put the cluster under a directory everyone can enter"
	done
	local home=$W/nobody
	mkdir -p "$home" && chown nobody:nogroup "$home" && chmod 0755 "$home"

	# srun as nobody, with a CUDA_VISIBLE_DEVICES of its own choosing in the environment, and
	# another node's name where the plugin must not look for it.
	BG_CWD=$home bg s env CUDA_VISIBLE_DEVICES=3 ROCR_VISIBLE_DEVICES=3 SLURMD_NODENAME=n1 \
		setpriv --reuid=nobody --regid=nogroup --clear-groups \
		srun -w n2 -J it-nobody-srun --gpu-slots=2 "$W"/report nobody-srun hold
	local j
	j=$(wait_reports "$W"/s.out 1 30)
	expect_eq "$(field "$(reports "$W"/s.out)" user)" nobody "user of job $j"
	check_reports "$W"/s.out
	expect_eq "$(query owner "$j")" "nobody $(id -u nobody)" "owner of job $j's reservation"
	expect_eq "$(ledger_nodes "$j")" n2 "nodes where job $j holds a reservation"
	ok "srun job $j of user nobody sees its GPUs [$(ledger_gpus n2 "$j")] on n2, not the 3 it set itself"

	# nobody reads the ledger, like squeue, but cannot change it.
	as_nobody "$CLI" --config "$GPUSLOTS_CONFIG" status >"$W"/status.txt 2>"$W"/status.err ||
		fail "gpuslots status as nobody failed: $(cat "$W"/status.err)"
	expect_grep "$W"/status.txt "^n2 .* job:$j( |\$)" "gpuslots status as nobody"
	as_nobody "$CLI" --config "$GPUSLOTS_CONFIG" status --json >"$W"/status.json 2>"$W"/status.err ||
		fail "gpuslots status --json as nobody failed: $(cat "$W"/status.err)"
	expect_eq "$(python3 "$IT_HERE"/status_query.py gpus n2 "$j" <"$W"/status.json)" \
		"$(ledger_gpus n2 "$j")" "job $j's GPUs in status --json as nobody"
	local rc
	as_nobody "$CLI" --config "$GPUSLOTS_CONFIG" release --job "$j" >"$W"/release.out 2>"$W"/release.err
	rc=$?
	expect_eq "$rc" 5 "exit status of 'gpuslots release --job $j' as nobody (permission denied)"
	[ "$(ledger_gpus n2 "$j")" != NONE ] || fail "nobody released job $j's reservation"
	ok "nobody sees job:$j in gpuslots status, and cannot release it (exit 5)"
	release_job "$j"
	bg_wait s 30
	expect_eq "${BG_RC[s]}" 0 "srun exit status (job $j)"
	wait_ledger_clear "$j" 20

	# sbatch as nobody: output in nobody's own directory; the script and a step.
	j=$(cd "$home" && as_nobody sbatch --parsable -w n3 --gpu-slots=1 -o "$home/%j.out" \
		--wrap "$W/report nobody-batch; srun $W/report nobody-step hold") || fail "sbatch as nobody failed"
	wait_reports "$home/$j.out" 2 40 >/dev/null
	expect_eq "$(reports "$home/$j.out" | grep -c ' user=nobody ')" 2 "lines of job $j run as nobody"
	check_reports "$home/$j.out"
	release_job "$j"
	wait_job_ended "$j" 30
	expect_eq "$(job_state "$j")" COMPLETED "state of job $j"
	wait_ledger_clear "$j" 20
	assert_no_drain
	ok "sbatch job $j of nobody: script and step see GPU [$(field "$(reports "$home/$j.out" | head -1)" cvd)], released after"
}
