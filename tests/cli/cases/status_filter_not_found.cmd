# A task or job that holds nothing is "not found" (3), as for release; stdout stays empty.
gpuslots allocate test_001 1 1 >/dev/null || exit 99
gpuslots status --job 42
echo "rc $?"
gpuslots status --task test_001 --server gpu-server-1
echo "rc $?"
gpuslots status --task nope --json
