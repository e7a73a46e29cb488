# shellcheck shell=bash
# Monitoring with real jobs: the GPU job files for dcgm-exporter and jobstats follow the
# ledger (written in the prolog, gone after the epilog, rebuilt by `gpuslots gpu-job-files`),
# and `gpuslots status --job` finds a running job.
#
# The test cluster's nodes share one host, so they would share one directory; only n2 runs a
# job here, as on a real cluster where each node has its own /run.

# The file names in DIR, sorted, space separated.
names_in() { ls -A "$1" 2>/dev/null | sort -n | tr '\n' ' '; }

scenario_gpu_job_files() {
	local dcgm=$W/dcgm-job-mapping stats=$W/gpustat j gpus g expected=""
	conf_add_slurm_line "dcgm_job_mapping_dir: $dcgm"
	conf_add_slurm_line "jobstats_dir: $stats"
	bg a srun -w n2 -J it-gpu-files --gpu-slots=2 "$W"/report gpu-files hold
	j=$(wait_reports "$W"/a.out 1 30)
	gpus=$(ledger_gpus n2 "$j")
	[ -n "$gpus" ] && [ "$gpus" != NONE ] || fail "job $j holds no GPUs on n2 ($gpus)"
	for g in ${gpus//,/ }; do
		expected+="$g "
		expect_eq "$(cat "$dcgm/$g")" "$j" "dcgm-exporter's file for GPU $g of job $j"
		expect_eq "$(cat "$stats/$g")" "$j 0" "jobstats' file for GPU $g of job $j (root's job)"
		[ -f "$dcgm/$g" ] && [ ! -L "$dcgm/$g" ] || fail "$dcgm/$g is not a regular file"
	done
	expect_eq "$(names_in "$dcgm")" "$expected" "the files in $dcgm while job $j runs"
	expect_eq "$(names_in "$stats")" "$expected" "the files in $stats while job $j runs"
	ok "the prolog wrote one file per GPU of job $j ($gpus) in both directories"

	# status --job: the job's servers and reservation only, in the table and in JSON.
	local table json
	table=$(cli status --job "$j") || fail "gpuslots status --job $j failed"
	expect_eq "$(echo "$table" | awk 'NR > 1 && $1 != "TOTAL" {print $1, $NF}')" "n2 job:$j" \
		"the rows of 'gpuslots status --job $j'"
	json=$(cli status --job "$j" --json) || fail "gpuslots status --job $j --json failed"
	expect_eq "$(echo "$json" | python3 "$IT_HERE"/status_query.py nodes "$j")" n2 \
		"the servers of 'gpuslots status --job $j --json'"
	expect_eq "$(echo "$json" | python3 "$IT_HERE"/status_query.py tasks)" 1 \
		"the reservations of 'gpuslots status --job $j --json'"
	ok "status --job $j shows only n2 and its reservation"

	# After a reboot (or with the files lost), the tool rebuilds them from the ledger.
	rm -rf "$dcgm" "$stats"
	cli gpu-job-files --server n2 >"$W"/rebuild.out 2>&1 ||
		fail "gpuslots gpu-job-files failed: $(cat "$W"/rebuild.out)"
	expect_eq "$(names_in "$dcgm")" "$expected" "the files in $dcgm after gpu-job-files"
	expect_eq "$(cat "$stats/${gpus%%,*}")" "$j 0" "jobstats' file after gpu-job-files"
	ok "gpu-job-files rebuilt both directories from the ledger"

	release_job "$j"
	bg_wait a 30
	expect_eq "${BG_RC[a]}" 0 "srun exit status (job $j)"
	wait_ledger_clear "$j" 20
	wait_until 20 "the epilog to remove the files of job $j" \
		eval '[ -z "$(names_in "$dcgm")" ] && [ -z "$(names_in "$stats")" ]'
	assert_no_drain
	ok "the epilog removed them when job $j ended"
}
