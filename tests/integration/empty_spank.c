/* empty_spank.so: a SPANK plugin whose job_prolog and job_epilog do nothing. It is the floor
 * for gpuslots' design: Slurm runs two extra `slurmstepd spank prolog/epilog` processes per job
 * for any plugin with these hooks, whatever the hooks do. tests/bench/ compares gpuslots.so
 * against it on the same cluster (cluster.sh PLUGIN=empty). */
#include <slurm/spank.h>

SPANK_PLUGIN(empty_spank, 1);

int slurm_spank_job_prolog(spank_t sp, int ac, char **av)
{
	(void)sp;
	(void)ac;
	(void)av;
	return 0;
}

int slurm_spank_job_epilog(spank_t sp, int ac, char **av)
{
	(void)sp;
	(void)ac;
	(void)av;
	return 0;
}
