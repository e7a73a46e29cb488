# One ledger for the cluster (the `shared` cluster: 3 nodes x 4 GPUs, BACKEND=mariadb): every
# node's prolog and epilog and the admin tool run here ("the head") keep their books in one
# MariaDB ledger, so the head sees every node's jobs, places manual bookings only where the
# shared books have room, and a job and a booking on one node never get the same GPU.

# The cluster really keeps its books in the database: no SQLite file, and the database answers.
shared_ledger_only() {
	[ "${BACKEND:-sqlite}" = mariadb ] || fail "scenario $IT_NAME needs a cluster with BACKEND=mariadb (this one: ${BACKEND:-sqlite})"
	[ ! -e "$CLUSTER_DIR"/state/ledger.db ] || fail "a SQLite ledger $CLUSTER_DIR/state/ledger.db exists next to the shared one"
	local n
	n=$(ledger_query "SELECT count(*) FROM reservations")
	[[ "$n" =~ ^[0-9]+$ ]] || fail "cannot read the shared ledger $MARIADB_DATABASE: $n"
}

# What the database itself holds (not what the tool says): "reservations gpu_holds".
db_counts() {
	ledger_query "SELECT (SELECT count(*) FROM reservations), (SELECT count(*) FROM gpu_holds)" | tr '\t' ' '
}

# disjoint "0,1" "2,3": no index in both.
disjoint() {
	! comm -12 <(tr ',' '\n' <<<"$1" | sort) <(tr ',' '\n' <<<"$2" | sort) | grep -q .
}

# The GPUs in allocate's output line "allocated ID on NODE: GPUs 0,1, ...", and its node.
allocated_node() { sed -n 's/^allocated [^ ]* on \([^:]*\): GPUs .*/\1/p' "$1"; }
allocated_gpus() { sed -n 's/^allocated [^ ]* on [^:]*: GPUs \([0-9,]*\),.*/\1/p' "$1"; }

# hold_job NODE GPUS NAME: submits a batch job on NODE with GPUS slots that keeps running
# until release_job (its output $W/NAME.out); prints its id.
hold_job() {
	sbatch --parsable -J "it-$3" -w "$1" --gpu-slots="$2" -o "$W/$3.out" "$W"/report "$3" hold ||
		fail "sbatch -w $1 --gpu-slots=$2 failed"
}
# wait_held NAME...: until each job's script runs (its reservation is in the ledger by then).
wait_held() {
	local name
	for name in "$@"; do wait_reports "$W/$name.out" 1 40 >/dev/null; done
}

scenario_shared_status() {
	shared_ledger_only
	local n jobs=()
	for n in 1 2 3; do jobs+=("$(hold_job "n$n" "$n" "n$n")"); done
	wait_held n1 n2 n3
	# Each job saw exactly what the head's status says it holds on its node.
	check_reports "$W"/n1.out "$W"/n2.out "$W"/n3.out
	for n in 1 2 3; do
		expect_eq "$(ledger_nodes "${jobs[$((n - 1))]}")" "n$n" "nodes of job ${jobs[$((n - 1))]} in the head's status"
		expect_eq "$(gpu_count "$(ledger_gpus "n$n" "${jobs[$((n - 1))]}")")" "$n" "GPUs of job ${jobs[$((n - 1))]} on n$n"
	done
	# The head's full status (asking slurmctld too) shows the three jobs as running jobs.
	cli status >"$W"/status.txt 2>&1 || fail "gpuslots status failed: $(cat "$W"/status.txt)"
	for n in 1 2 3; do
		expect_grep "$W"/status.txt "^n$n .* job:${jobs[$((n - 1))]}( |\$)" "the head's status table"
	done
	# The rows are in the database itself: 3 reservations, 1 + 2 + 3 GPUs.
	expect_eq "$(db_counts)" "3 6" "reservations and GPU holds in $MARIADB_DATABASE"
	ok "jobs ${jobs[*]} on n1, n2, n3: the head's status shows each on its node with the GPUs it saw; 3 rows in the database"
	# Everyone's status reads through the read account (read.cnf), and sees the same books.
	if as_nobody test -r "$MARIADB_DIR"/read.cnf; then
		as_nobody "$CLI" --config "$GPUSLOTS_CONFIG" status --json --no-slurm >"$W"/nobody.json 2>"$W"/nobody.err ||
			fail "gpuslots status as nobody failed: $(cat "$W"/nobody.err)"
		expect_eq "$(python3 "$IT_HERE"/status_query.py snapshot <"$W"/nobody.json)" "$(query snapshot)" "nobody's status against root's"
		ok "nobody's status (the read account) shows the same books"
	else
		note "nobody cannot read $MARIADB_DIR/read.cnf (a parent directory closed to others): nobody's status not checked"
	fi
	local j
	for j in "${jobs[@]}"; do release_job "$j"; done
	for j in "${jobs[@]}"; do
		wait_job_ended "$j" 40
		expect_eq "$(job_state "$j")" COMPLETED "state of job $j"
		wait_ledger_clear "$j" 20
	done
	expect_eq "$(db_counts)" "0 0" "reservations and GPU holds in $MARIADB_DATABASE after the jobs"
	assert_no_drain
	ok "all three released by their epilogs; the database is empty"
}

scenario_shared_allocate() {
	shared_ledger_only
	# Jobs hold 2 of n1's GPUs, 3 of n2's, 1 of n3's: free 2, 1, 3.
	local a b c
	a=$(hold_job n1 2 a)
	b=$(hold_job n2 3 b)
	c=$(hold_job n3 1 c)
	wait_held a b c
	check_reports "$W"/a.out "$W"/b.out "$W"/c.out
	local -A job_of=([n1]=$a [n2]=$b [n3]=$c) seen_of=()
	seen_of[n1]=$(field "$(reports "$W"/a.out)" cvd)
	seen_of[n2]=$(field "$(reports "$W"/b.out)" cvd)
	seen_of[n3]=$(field "$(reports "$W"/c.out)" cvd)
	# Best fit from the head, without --server: 2 GPUs fit on n1 (the fullest with room) and
	# n3; then 3 only on n3; then 1 only on n2. Each on GPUs no job of that node holds.
	local want task node gpus
	for want in "it-two 2 n1" "it-three 3 n3" "it-one 1 n2"; do
		read -r task gpus node <<<"$want"
		cli allocate "$task" "$gpus" 0 >"$W/$task.out" 2>&1 ||
			fail "gpuslots allocate $task $gpus 0 from the head failed: $(cat "$W/$task.out")"
		expect_eq "$(allocated_node "$W/$task.out")" "$node" "the server allocate chose for $task ($gpus GPUs; $(cat "$W/$task.out"))"
		local got
		got=$(allocated_gpus "$W/$task.out")
		expect_eq "$(gpu_count "$got")" "$gpus" "GPUs allocate gave $task"
		expect_eq "$(query manual_gpus "$node" "$task")" "$got" "the ledger's GPUs of $task on $node"
		disjoint "$got" "${seen_of[$node]}" ||
			fail "$task got GPUs $got on $node, but job ${job_of[$node]} there runs with CUDA_VISIBLE_DEVICES=${seen_of[$node]}"
		ledger_consistent
		note "$task ($gpus GPUs) on $node: GPUs $got; job ${job_of[$node]} there has ${seen_of[$node]}"
	done
	ok "allocate from the head placed 2, 3, 1 GPUs on n1, n3, n2: where the nodes' jobs left room, never on their GPUs"
	# Now every GPU is held: the next booking fits nowhere (exit 3), nothing changes.
	local before rc
	before=$(query snapshot)
	cli allocate it-more 1 0 >"$W"/more.out 2>"$W"/more.err
	rc=$?
	expect_eq "$rc" 3 "exit status of allocate with every GPU held ($(cat "$W"/more.err))"
	expect_eq "$(query snapshot)" "$before" "the ledger after the refused booking"
	expect_eq "$(squeue -h -n gpuslots-hold:it-more -o %i)" "" "holder jobs left by the refused booking"
	expect_eq "$(db_counts)" "6 12" "reservations and GPU holds in $MARIADB_DATABASE (3 jobs, 3 bookings)"
	ok "with all 12 GPUs held, allocate fits nowhere: exit 3, ledger unchanged"
	for task in it-two it-three it-one; do
		cli release "$task" >"$W/release-$task.out" 2>&1 || fail "gpuslots release $task failed: $(cat "$W/release-$task.out")"
	done
	local j
	for j in "$a" "$b" "$c"; do release_job "$j"; done
	for j in "$a" "$b" "$c"; do
		wait_job_ended "$j" 40
		expect_eq "$(job_state "$j")" COMPLETED "state of job $j"
		wait_ledger_clear "$j" 20
	done
	expect_eq "$(squeue -h -o %j | grep -c '^gpuslots-hold:')" 0 "holder jobs left"
	expect_eq "$(db_counts)" "0 0" "the database after the releases"
	assert_no_drain
}

scenario_shared_manual_then_job() {
	shared_ledger_only
	# A booking on n1 first (it holds a Slurm job, so Slurm counts it), then a job on n1.
	cli allocate it-first 2 1 --server n1 >"$W"/first.out 2>&1 ||
		fail "gpuslots allocate it-first 2 1 --server n1 failed: $(cat "$W"/first.out)"
	local manual
	manual=$(allocated_gpus "$W"/first.out)
	expect_eq "$(gpu_count "$manual")" 2 "GPUs of it-first on n1 ($(cat "$W"/first.out))"
	local j seen
	j=$(hold_job n1 2 job)
	wait_held job
	seen=$(field "$(reports "$W"/job.out)" cvd)
	check_reports "$W"/job.out
	expect_eq "$(gpu_count "$seen")" 2 "CUDA_VISIBLE_DEVICES of job $j on n1"
	disjoint "$seen" "$manual" || fail "job $j on n1 runs with CUDA_VISIBLE_DEVICES=$seen, but it-first holds GPUs $manual there"
	expect_eq "$(query manual_gpus n1 it-first)" "$manual" "it-first's GPUs while job $j runs"
	ok "booking it-first holds GPUs $manual of n1; job $j there runs with CUDA_VISIBLE_DEVICES=$seen (the ledger agrees)"
	# n1 is full in Slurm's eyes too: a third party waits for Resources.
	local p
	p=$(sbatch --parsable -w n1 --gpu-slots=1 -o /dev/null --wrap true) || fail "sbatch failed"
	wait_until 20 "job $p to wait for Resources" eval '[ "$(job_field '"$p"' Reason)" = Resources ]'
	expect_eq "$(job_state "$p")" PENDING "job $p while n1 is held by it-first and job $j"
	scancel "$p"
	wait_job_ended "$p" 20
	ok "a further job on n1 waits PENDING (Resources)"
	cli release it-first >"$W"/release.out 2>&1 || fail "gpuslots release it-first failed: $(cat "$W"/release.out)"
	release_job "$j"
	wait_job_ended "$j" 40
	expect_eq "$(job_state "$j")" COMPLETED "state of job $j"
	wait_ledger_clear "$j" 20
	expect_eq "$(db_counts)" "0 0" "the database after the release and the job"
	expect_eq "$(squeue -h -o %j | grep -c '^gpuslots-hold:')" 0 "holder jobs left"
	assert_no_drain
	ok "released; the database is empty"
}

scenario_shared_burst() {
	shared_ledger_only
	run_burst 20
	expect_eq "$(db_counts)" "0 0" "the database after the burst"
	expect_eq "$(ledger_query "SELECT count(*) FROM refusals")" 0 "refusal records in the database after the burst"
}
