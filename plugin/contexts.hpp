// One namespace per Slurm context, one file each; dispatch.cpp calls them and documents what
// each returns on failure. They return what the hook returns to Slurm.
#pragma once

#include "core_abi.h"

namespace gpuslots::submit {  // submit.cpp: srun, sbatch, salloc, as the user

int start(const gpuslots_submit_start& start);
int init_post_opt(spank_t sp, int ac, char** av);
// The --gpu-slots / --cpu-slots callback (it gets no spank handle).
int on_option(int val, const char* optarg, int remote);

}  // namespace gpuslots::submit

namespace gpuslots::job_script {  // job_script.cpp: job_prolog, job_epilog, as root

int prolog(spank_t sp, int ac, char** av);
int epilog(spank_t sp, int ac, char** av);
// slurmd's own start (S_CTX_SLURMD): the reboot rule on this node; always 0.
int slurmd_init(int ac, char** av);

}  // namespace gpuslots::job_script

namespace gpuslots::stepd {  // slurmstepd.cpp: the step's privileged hooks, as root

int init(spank_t sp, int ac, char** av);
int init_post_opt(spank_t sp, int ac, char** av);
// What the firewall calls when init_post_opt threw: hide every GPU from the step (whatever
// init_post_opt had set already) and make task_init_privileged fail a job that asked for
// slots. Returns the hook's value (0: never fail the step itself).
int init_post_opt_failed(spank_t sp, const char* why) noexcept;
int task_init_privileged(spank_t sp);

}  // namespace gpuslots::stepd
