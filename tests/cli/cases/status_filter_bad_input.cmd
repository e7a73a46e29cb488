# A filter that can never match as written is bad input (2).
gpuslots status --server gpu-server-9
echo "rc $?"
gpuslots status --job abc
echo "rc $?"
gpuslots status --job 0
echo "rc $?"
gpuslots status --task 'a/b'
echo "rc $?"
gpuslots status --job 1 --task x
