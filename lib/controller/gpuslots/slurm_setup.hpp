// What Slurm must be told about the servers it schedules (slurm.conf, gres.conf,
// job_submit.lua), derived from the gpuslots config so that an admin never writes the counts
// by hand, and the comparison of that with what slurmctld says. README "Slurm schedules by
// the slots" explains each line.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gpuslots/config.hpp"
#include "gpuslots/slurm_controller.hpp"

namespace gpuslots {

// The GRES a scheduled server must offer: slots {gpuslots: gpus, cpuslots: cpus}; follow
// {gpu: gpus, cpuslots: cpus}; none: nothing.
std::map<std::string, long long> expected_gres(const Server& server);

struct SlurmSetup {
    std::vector<std::string> slurm_conf;  // lines for slurm.conf
    std::vector<std::string> gres_conf;   // lines for gres.conf
    std::vector<std::string> job_submit;  // job_submit.lua, line by line
};

// The lines for every server with slurm: slots or follow, servers with the same counts in one
// hostlist. `lua_dir`: where the module is installed (a package.path line is added unless it
// is on lua5.1's default path). Errors: bad_input when no server is scheduled by Slurm.
Result<SlurmSetup> slurm_setup(const Config& config, const std::string& lua_dir);

struct SetupProblem {
    bool warning = false;  // works, but less well than it could
    std::string message;   // what is wrong and what to do, one line
};

// The config against slurmctld's view. `mapping`: the probe's result, when it was run.
// Empty when everything matches.
std::vector<SetupProblem> compare_with_slurm(const Config& config, const SlurmSettings& settings,
                                             const std::vector<SlurmNodeInfo>& nodes,
                                             std::optional<MappingState> mapping);

}  // namespace gpuslots
