# Nothing to print when no server is scheduled by Slurm: bad input (2).
gpuslots slurm-config
