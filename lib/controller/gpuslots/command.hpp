// Running one of Slurm's commands (scontrol, sbatch, salloc, scancel, squeue) as a child
// process with a bounded time, its output captured. The admin tool talks to slurmctld this way
// rather than through libslurm: the commands' one-line output (`scontrol -o`) has kept its
// shape across Slurm releases while libslurm's structs and soname change with every one
// (libslurm.so.38 is 22.05 only), the tool starts on hosts without Slurm, and the commands use
// the site's own SLURM_CONF and authentication exactly as the admin's would.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "gpuslots/error.hpp"

namespace gpuslots {

struct CommandOutput {
    int exit_code = 0;  // the command's exit status; 128+N when it died of signal N
    std::string out;
    std::string err;
};

// Runs argv[0] (looked up on PATH) with argv, stdin from /dev/null, and waits at most
// `timeout` for it; a command still running then is killed. At most `max_output` bytes of each
// stream are kept. Errors: config (the program does not exist: Slurm is not installed
// here), busy (it did not finish within `timeout`), internal (the process could not be run).
// A non-zero exit status is not an error here: the caller reads it.
Result<CommandOutput> run_command(const std::vector<std::string>& argv,
                                  std::chrono::milliseconds timeout,
                                  std::size_t max_output = 16u << 20);

}  // namespace gpuslots
