# status --server and --task in the table and in JSON; totals are over what is shown.
gpuslots allocate test_001 2 16 --server gpu-server-1 >/dev/null || exit 99
gpuslots allocate test_002 1 1 --server gpu-server-1 >/dev/null || exit 99
gpuslots allocate test_003 1 1 --server gpu-server-0 >/dev/null || exit 99
gpuslots status --server gpu-server-1
gpuslots status --server gpu-server-1 --json
gpuslots status --task test_002
gpuslots status --task test_002 --json
gpuslots status --task test_002 --server gpu-server-1
