# The one-line errors of allocate, with their exit codes: bad input (2), does not fit (3).
gpuslots allocate x abc 1
echo "rc $?"
gpuslots allocate x 0 1
echo "rc $?"
gpuslots allocate x 1 33
echo "rc $?"
gpuslots allocate 'a/b' 1 1
echo "rc $?"
gpuslots allocate x 1 1 --server gpu-server-9
echo "rc $?"
gpuslots allocate big 4 1 --server gpu-server-0 >/dev/null || exit 99
gpuslots allocate x 1 1 --server gpu-server-0
echo "rc $?"
gpuslots allocate big 1 1
echo "rc $?"
gpuslots allocate other 4 1 --server gpu-server-1 >/dev/null || exit 99
gpuslots allocate z 1 1
