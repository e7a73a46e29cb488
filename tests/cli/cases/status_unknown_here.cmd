# A ledger that only the tool writes keeps the books of the servers Slurm does not schedule:
# n1 and n2 book their jobs in their own nodes' ledgers, so here they are "unknown here" (not
# free), best fit never picks them, and --server on one is refused (exit 2).
gpuslots allocate nb 1 8 >/dev/null || exit 99
gpuslots status
gpuslots status --json
gpuslots allocate x 1 1 --server n1
echo "rc $?"
gpuslots allocate y 4 1
echo "rc $?"
gpuslots metrics
