# gpuslots metrics: per server totals and reservations, one info series per reserved GPU,
# the ledger's health; on an empty ledger first.
gpuslots metrics
gpuslots allocate test_001 2 16 --server gpu-server-0 >/dev/null || exit 99
gpuslots allocate alice@ws:nb+1 1 1 --server gpu-server-1 >/dev/null || exit 99
gpuslots metrics --info-limit 2
