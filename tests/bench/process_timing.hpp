// Whole-process figures: wall time and peak RSS of one command, as a user would run it.
#pragma once

#include <string>
#include <vector>

namespace gpuslots::bench {

struct ProcessRun {
    double wall_ms = 0;
    int exit_code = -1;
};

// Runs argv (argv[0] a path, or a name looked up in PATH) with `extra_env` ("K=V") added,
// stdin from /dev/null and stdout to /dev/null (stderr is kept, for diagnostics) and waits.
ProcessRun run_timed(const std::vector<std::string>& argv,
                     const std::vector<std::string>& extra_env = {});

// Like run_timed, but throws std::runtime_error naming the command unless it exits 0.
ProcessRun run_checked(const std::vector<std::string>& argv,
                       const std::vector<std::string>& extra_env = {});

// The peak resident set of argv in MiB, measured by GNU time (/usr/bin/time -f %M), or a
// negative value when /usr/bin/time is not installed. (wait4's ru_maxrss cannot be used from
// here: Linux keeps the larger of the parent's and the child's peak across fork+exec, and this
// driver holds a 10,000-server fixture.) Throws unless the command exits 0.
double peak_rss_mib(const std::vector<std::string>& argv, const std::string& scratch_dir);

// Runs argv and returns its stdout (for the Python baseline's own ops/s line).
std::string run_capture(const std::vector<std::string>& argv,
                        const std::vector<std::string>& extra_env = {});

}  // namespace gpuslots::bench
