// Gathering what Slurm gives a hook into plain values (SlurmJob, PluginArgs), the option
// table, and logging with the "gpuslots: <hook>: " prefix. Nothing here decides anything.
#pragma once

#include "core_abi.h"

#include <string>

#include "gpuslots/plugstack.hpp"
#include "gpuslots/slurm_job.hpp"

namespace gpuslots::spank {

// Both options, in the table entry.c registered (gpuslots_core_host::options, set when the core
// is attached), read back with spank_option_getopt().
extern struct spank_option* kOptions;
enum OptionIndex { kGpuSlotsIndex = GPUSLOTS_GPU_SLOTS, kCpuSlotsIndex = GPUSLOTS_CPU_SLOTS };

// "gpu-slots" or "cpu-slots".
const char* option_name(OptionIndex index);

Result<PluginArgs> args_of(int ac, char** av);

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
