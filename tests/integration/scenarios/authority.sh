# shellcheck shell=bash
# Whose books a ledger keeps. The test cluster's nodes share one host and one SQLite ledger,
# which each node's plugin has claimed (slurmd's start, the prologs): it keeps n1..n3's books.
# A head node has a ledger of its own that no plugin writes: it must not show a node free
# while a job holds it there, nor book on it.

# status_field CONFIG SERVER KEY: what `status --json` with CONFIG says of SERVER's KEY.
status_field() {
	GPUSLOTS_CONFIG=$1 cli status --json --no-slurm 2>/dev/null |
		python3 -c 'import json, sys
st = json.load(sys.stdin)
s = [x for x in st["servers"] if x["name"] == sys.argv[1]][0]
print(json.dumps(s.get(sys.argv[2], "absent")))' "$2" "$3"
}

scenario_head_ledger() {
	local j head_db=$W/head-state.db before rc
	sed "s|^  path: .*|  path: $head_db|" "$GPUSLOTS_CONFIG" >"$W"/head.yaml
	j=$(sbatch --parsable -w n2 --gpu-slots=2 -o "$W"/hold.out --wrap "$W/report hold hold") || fail "sbatch failed"
	wait_reports "$W"/hold.out 1 30 >/dev/null
	wait_ledger_has "$j" n2 20
	expect_eq "$(status_field "$GPUSLOTS_CONFIG" n2 gpus_free)" 2 "n2's free GPUs in the nodes' ledger"
	expect_eq "$(status_field "$GPUSLOTS_CONFIG" n2 known_here)" '"absent"' "known_here of n2 in the nodes' ledger"

	# The head's own ledger: n2 is scheduled by Slurm, so its jobs are not booked here.
	GPUSLOTS_CONFIG=$W/head.yaml cli status --no-slurm >"$W"/head.out 2>"$W"/head.err ||
		fail "status on the head failed: $(cat "$W"/head.err)"
	note "head: $(grep '^n2 ' "$W"/head.out)"
	expect_grep "$W"/head.out "^n2 +\?/4 +\? +\?/8 +\? +unknown here" "n2's row on the head"
	expect_grep "$W"/head.err "n1 n2 n3: unknown here: Slurm schedules them" "the head's warning"
	expect_eq "$(status_field "$W"/head.yaml n2 known_here)" false "known_here of n2 on the head"
	expect_eq "$(status_field "$W"/head.yaml n2 gpus_free)" null "gpus_free of n2 on the head"
	ok "status on the head shows n2 unknown, not free, while job $j holds 2 of its GPUs"

	before=$(squeue -h -o %i | sort | tr '\n' ' ')
	GPUSLOTS_CONFIG=$W/head.yaml cli allocate it-head 1 1 --server n2 >"$W"/alloc.out 2>"$W"/alloc.err
	rc=$?
	expect_eq "$rc" 2 "exit status of allocate on n2 from the head"
	expect_grep "$W"/alloc.err "n2's slots are not booked in this ledger" "allocate's message"
	expect_eq "$(squeue -h -o %i | sort | tr '\n' ' ')" "$before" "Slurm's jobs after the refused booking (no holder job)"
	ok "allocate on n2 from the head is refused (exit 2) before any holder job: $(cut -c1-90 "$W"/alloc.err)..."

	release_job "$j"
	wait_job_ended "$j" 30
	wait_ledger_clear "$j" 20
}
