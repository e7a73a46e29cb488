gpuslots allocate test_001 2 16 --json
gpuslots release test_001 --json
