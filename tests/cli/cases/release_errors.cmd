# release of what holds nothing is not found (3); wrong arguments are bad input (2).
gpuslots allocate test_001 2 16 --server gpu-server-0 >/dev/null || exit 99
gpuslots release nope
echo "rc $?"
gpuslots release test_001 --server gpu-server-1
echo "rc $?"
gpuslots release test_001 --job 5
echo "rc $?"
gpuslots release --job abc
