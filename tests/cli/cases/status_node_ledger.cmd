# A ledger that the plugin writes on its node is that node's alone. The tool cannot make one,
# so the claim that slurmd's start on gpu-server-0 records is written here with sqlite3. Then
# gpu-server-1 is "unknown here" in status, JSON and metrics, and cannot be booked (exit 2);
# manual bookings on gpu-server-0 itself still work.
gpuslots allocate a 1 1 --server gpu-server-0 >/dev/null || exit 99
sqlite3 state.db "INSERT INTO node_claims (server, claimed) VALUES ('gpu-server-0', 0)" || exit 99
gpuslots status
gpuslots status --json
gpuslots status --server gpu-server-1
gpuslots allocate b 1 1 --server gpu-server-1
echo "rc $?"
gpuslots allocate c 2 2
gpuslots metrics
