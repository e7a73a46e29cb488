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

# The GPUs in allocate's output line "allocated ID on NODE: GPUs [0,1] and ...", and its node.
allocated_node() { sed -n 's/^allocated [^ ]* on \([^:]*\): GPUs .*/\1/p' "$1"; }
allocated_gpus() { sed -n 's/^allocated [^ ]* on [^:]*: GPUs \[\([0-9,]*\)\] and .*/\1/p' "$1"; }

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

# ---- the database down (issue 11, "Faults") --------------------------------------------------

# The server is stopped (mariadb_server.sh pause: mariadbd stopped by its PID, its data kept),
# not frozen with SIGSTOP: a stopped server is the common outage (a restart, a crash), every
# client is refused at once ("can't connect", 2002), so the hooks answer within the scenario's
# time; a frozen one costs each hook its read time-out and is covered by unit.outage. The
# server is the mariadb fixture's, shared with the other scenarios: it_end starts it again
# whatever happens, and the next scenario's it_quiesce does if this one was killed.
shared_db_down() { sh "$IT_HERE"/../support/mariadb_server.sh pause "$MARIADB_DIR"; }
shared_db_up() {
	[ -S "$MARIADB_DIR"/mysqld.sock ] || sh "$IT_HERE"/../support/mariadb_server.sh resume "$MARIADB_DIR"
}
# The lines NODE's slurmd logged since the scenario began.
slurmd_log_since_begin() {
	local f=$CLUSTER_DIR/log/slurmd.$1.log
	tail -c +$((${LOG_OFFSET[$f]:-0} + 1)) "$f"
}
kept_releases() { (cd "$CLUSTER_DIR"/records 2>/dev/null && compgen -G '*.release' | sort | tr '\n' ' '); }
no_drain_in_sinfo() {
	local s
	s=$(sinfo -h -o '%N %T')
	if grep -Eq 'drain|drng' <<<"$s"; then fail "node(s) drained: $s ($(drained_nodes))"; fi
}

scenario_shared_outage() {
	shared_ledger_only
	[ -z "$(kept_releases)" ] || fail "kept releases before the scenario: $(kept_releases)"
	local n j jobs=()
	for n in 1 2 3; do jobs+=("$(hold_job "n$n" 1 "n$n")"); done
	wait_held n1 n2 n3
	check_reports "$W"/n1.out "$W"/n2.out "$W"/n3.out
	expect_eq "$(db_counts)" "3 3" "reservations and GPU holds in $MARIADB_DATABASE while jobs ${jobs[*]} run"
	ok "jobs ${jobs[*]} hold 1 GPU each on n1, n2, n3"

	IT_AT_END+=(shared_db_up)
	shared_db_down || fail "cannot stop the database server in $MARIADB_DIR"
	local rc
	cli status --json --no-slurm >"$W"/down-status.out 2>"$W"/down-status.err
	rc=$?
	expect_eq "$rc" 4 "exit status of the head's status with the database down ($(cat "$W"/down-status.err))"
	expect_grep "$W"/down-status.err "cannot reach the ledger" "the head's status with the database down"
	ok "database stopped: the head's status exits 4 ($(head -c 120 "$W"/down-status.err)...)"

	# The running jobs end: each epilog keeps its release on the node and succeeds.
	for j in "${jobs[@]}"; do release_job "$j"; done
	for n in 1 2 3; do
		j=${jobs[$((n - 1))]}
		wait_job_ended "$j" 40
		expect_eq "$(job_state "$j")" COMPLETED "state of job $j, ended with the database down"
		wait_until 10 "n$n's epilog to keep job $j's release" test -f "$CLUSTER_DIR/records/n$n+$j.release"
		slurmd_log_since_begin "n$n" >"$W/slurmd.n$n.log"
		expect_grep "$W/slurmd.n$n.log" "job_epilog: job $j on n$n: cannot release its slots now: cannot reach the ledger" \
			"n$n's slurmd log"
	done
	no_drain_in_sinfo
	ok "jobs ${jobs[*]} COMPLETED with the database down; kept releases: $(kept_releases)"

	# A new GPU job: its prolog refuses it with the outage message, its tasks never run.
	local r
	r=$(sbatch --parsable -J it-refused -w n2 --gpu-slots=1 -o "$W"/refused.out "$W"/report refused) ||
		fail "sbatch of a job with the database down failed at submission"
	wait_job_ended "$r" 40
	expect_eq "$(job_state "$r")" FAILED "state of job $r, started with the database down"
	expect_grep "$W"/refused.out "gpuslots: job $r cannot run: cannot reach the ledger .*check that the database server is up" \
		"the output of job $r"
	expect_eq "$(report_count "$W"/refused.out)" 0 "batch script lines of refused job $r that ran"
	no_drain_in_sinfo
	assert_no_drain
	ok "job $r refused: FAILED, '$(grep -m1 -o 'gpuslots: job.*' "$W"/refused.out | cut -c1-110)...'; no node drained"

	# The database back: nothing was lost (the three reservations are still booked) ...
	shared_db_up || fail "cannot start the database server in $MARIADB_DIR again"
	expect_eq "$(db_counts)" "3 3" "reservations and GPU holds in $MARIADB_DATABASE when it is back"
	# ... and each kept release is applied once: n1's by the prolog of its next GPU job,
	# n2's and n3's by `gpuslots reconcile` on their host.
	local a
	a=$(sbatch --parsable -J it-after -w n1 --gpu-slots=1 -o "$W"/after.out "$W"/report after) || fail "sbatch failed"
	wait_job_ended "$a" 40
	expect_eq "$(job_state "$a")" COMPLETED "state of job $a, after the database came back"
	expect_eq "$(report_count "$W"/after.out)" 1 "batch script lines of job $a"
	wait_until 10 "job ${jobs[0]}'s kept release on n1 to be applied" eval '[ ! -e "$CLUSTER_DIR/records/n1+${jobs[0]}.release" ]'
	expect_eq "$(slurmd_log_since_begin n1 | grep -c "job ${jobs[0]}'s release on n1, kept since .*: released")" 1 \
		"lines in slurmd.n1.log applying job ${jobs[0]}'s kept release"
	ok "job $a on n1 ran; its prolog applied job ${jobs[0]}'s kept release once"
	for n in 2 3; do
		j=${jobs[$((n - 1))]}
		cli reconcile --record-dir "$CLUSTER_DIR"/records --server "n$n" >"$W/reconcile-n$n.out" 2>&1 ||
			fail "gpuslots reconcile --server n$n failed: $(cat "$W/reconcile-n$n.out")"
		expect_eq "$(grep -c "^pending release: job $j's release on n$n, kept since .*: released" "$W/reconcile-n$n.out")" 1 \
			"lines of reconcile --server n$n releasing job $j ($(cat "$W/reconcile-n$n.out"))"
		cli reconcile --record-dir "$CLUSTER_DIR"/records --server "n$n" >"$W/reconcile-again-n$n.out" 2>&1 ||
			fail "gpuslots reconcile --server n$n (again) failed: $(cat "$W/reconcile-again-n$n.out")"
		expect_no_grep "$W/reconcile-again-n$n.out" "pending release" "reconcile --server n$n run again"
	done
	ok "reconcile applied the kept releases of n2 and n3 once; run again it finds none"

	expect_eq "$(ledger_task_count)" 0 "reservations in the head's status --json at the end"
	expect_eq "$(db_counts)" "0 0" "reservations and GPU holds in $MARIADB_DATABASE at the end"
	expect_eq "$(kept_releases)" "" "kept releases left in $CLUSTER_DIR/records"
	no_drain_in_sinfo
	ok "the ledger is empty, no kept release is left, no node drained"
}
