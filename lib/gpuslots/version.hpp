// What this build is: the release, the git revision it was configured from, and the Slurm
// version its plugin was compiled against. `gpuslots --version` prints version_line(); the
// plugin logs the same line once per slurmd start, so that an admin can match the two.
#pragma once

#include <string_view>

namespace gpuslots {

// "0.1.0"
std::string_view version();
// Short commit hash when configured from a git checkout, else "unknown".
std::string_view git_revision();
// "22.05.8" from slurm/slurm_version.h at configure time, else "none" (built without Slurm).
std::string_view slurm_version();
// "gpuslots 0.1.0 (git 0123456789ab, built against Slurm 22.05.8)"
std::string_view version_line();

}  // namespace gpuslots
