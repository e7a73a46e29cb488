// Gathering what Slurm gives a hook into plain values (SlurmJob, PluginArgs), the option
// table, and logging with the "gpuslots: <hook>: " prefix. Nothing here decides anything.
#pragma once

extern "C" {
#include <slurm/spank.h>
}

#include <string>

#include "gpuslots/plugstack.hpp"
#include "gpuslots/slurm_job.hpp"

namespace gpuslots::spank {

// Both options, in one table: registered with spank_option_register() (sbatch ignores a
// static spank_options table), read back with spank_option_getopt(). The callback is
// submit::on_option.
extern struct spank_option kOptions[];
enum OptionIndex { kGpuSlotsIndex = 0, kCpuSlotsIndex = 1 };

Result<PluginArgs> args_of(int ac, char** av);

// spank_option_register(); logs under `hook` and returns false when Slurm refuses.
bool register_option(spank_t sp, OptionIndex index, const char* hook);

// Job id, job uid and option values from Slurm's items; the node name from this process's
// own environment as slurmd set it (never from the job's environment, which the user
// controls), else from the host name.
Result<SlurmJob> job_of(spank_t sp);

// This node's Slurm name: SLURMD_NODENAME as slurmd exports it to what it starts; in slurmd
// itself its -N argument; else the short host name.
std::string node_name();

void log_info(const char* hook, const std::string& message);
void log_error(const char* hook, const std::string& message);

}  // namespace gpuslots::spank
