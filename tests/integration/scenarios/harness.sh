# The harness itself, on a cluster with the empty plugin (the benchmark's baseline).

scenario_empty_plugin() {
	[ "$PLUGIN" = empty ] || fail "this scenario needs a PLUGIN=empty cluster (got PLUGIN=$PLUGIN)"
	expect_grep "$SLURM_CONF" "^PlugStackConfig=$CLUSTER_DIR/etc/plugstack.conf\$" "slurm.conf"
	expect_grep "$CLUSTER_DIR"/etc/plugstack.conf "^required $CLUSTER_DIR/lib/empty_spank.so\$" "plugstack.conf"
	srun -N1 bash -c 'echo "CVD=${CUDA_VISIBLE_DEVICES-UNSET}"' >"$W"/srun.out 2>"$W"/srun.err ||
		fail "srun with the empty plugin failed: $(cat "$W"/srun.err)"
	expect_grep "$W"/srun.out "^CVD=UNSET\$" "a job's CUDA_VISIBLE_DEVICES without gpuslots"
	srun -N1 --gpu-slots=1 true >"$W"/opt.out 2>"$W"/opt.err &&
		fail "srun --gpu-slots worked without gpuslots loaded"
	# The empty plugin's job_prolog/job_epilog ran: Slurm runs them in `slurmstepd spank`
	# processes; with SlurmdDebug=info nothing is logged on success, so check srun's exit only.
	local j
	j=$(sbatch --parsable -N1 -o /dev/null --wrap true) || fail "sbatch failed"
	wait_job_ended "$j" 30
	expect_eq "$(job_state "$j")" COMPLETED "state of job $j"
	ok "a cluster with the empty plugin runs srun and sbatch jobs; --gpu-slots is unknown there"
}

scenario_harness_refuses() {
	local rc
	"$IT_HERE"/cluster.sh up "$CLUSTER_DIR" >"$W"/again.out 2>&1
	rc=$?
	[ $rc = 1 ] || fail "cluster.sh up over the running cluster exited $rc, expected 1: $(cat "$W"/again.out)"
	expect_grep "$W"/again.out "already running in $CLUSTER_DIR" "cluster.sh up over a running cluster"
	CTLD_PORT=$CTLD_PORT SLURMD_PORT=$SLURMD_PORT NODES=$NODES PLUGIN=none \
		"$IT_HERE"/cluster.sh up "$W"/other >"$W"/ports.out 2>&1
	rc=$?
	[ $rc = 1 ] || fail "cluster.sh up on taken ports exited $rc, expected 1: $(cat "$W"/ports.out)"
	expect_grep "$W"/ports.out "port $CTLD_PORT is already in use" "cluster.sh up on taken ports"
	[ ! -e "$W"/other/run/slurmctld.pid ] || fail "cluster.sh up on taken ports started a slurmctld"
	"$IT_HERE"/cluster.sh status "$CLUSTER_DIR" >/dev/null 2>&1 || fail "the running cluster is gone"
	wait_until 10 "every node idle" nodes_idle
	ok "cluster.sh refuses to start over a running cluster or on taken ports, and leaves it alone"
}
