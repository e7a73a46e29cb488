# The original tool's check list: allocate, look, release, look again (all free again).
gpuslots allocate test_001 2 16
gpuslots status
gpuslots status --json
gpuslots release test_001
gpuslots status
gpuslots status --json
