# The Slurm lines for the servers Slurm schedules, without the package.path line (there only
# when the module is installed off lua5.1's default path, which depends on the install prefix).
gpuslots slurm-config >slurm.txt
rc=$?
grep -v '^package.path' slurm.txt
if [ -e state.db ]; then echo "slurm-config created the ledger"; fi
exit $rc
