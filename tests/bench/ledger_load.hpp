// Reserve+release load on a real SQLite ledger from one or many processes.
#pragma once

#include <string>
#include <vector>

#include "busy_handlers.hpp"

namespace gpuslots::bench {

struct LoadSpec {
    std::string dir;             // work directory; the ledger and the workers' files go here
    std::string config_yaml;     // a whole config (fleet + state) for the ledger in `dir`
    std::vector<std::string> servers;  // worker i reserves on servers[i % size]
    int processes = 1;
    double seconds = 1.0;
    int gpus = 2;                // per reservation, as the Python baseline asks
    int cpus = 4;
    BusyPolicy busy;  // the project's handler unless told otherwise
    // Emulates a proposed change to lib/: each write transaction first queues on a blocking
    // flock() of a side file, so waiters sleep in the kernel instead of polling SQLite's lock.
    bool queue_lock = false;
};

struct LoadResult {
    long operations = 0;  // ledger calls that committed: each reserve and each release is one
    long failures = 0;    // calls that returned an error (busy, no_fit, ...): should be 0
    std::string first_failure;
    double wall_seconds = 0;
    double ops_per_second = 0;
    double cpu_us_per_op = 0;  // user+system CPU of the workers per operation
    long fewest_worker_ops = 0;  // fairness: the least and most any one worker got done
    long most_worker_ops = 0;
    std::vector<double> latency_us;  // of every operation, all workers
};

// Forks `processes` workers that open the ledger themselves, start together, and loop
// reserve (as a Slurm job, on a named server) + release until `seconds` have passed.
// Throws std::runtime_error when a worker cannot run at all.
LoadResult run_load(const LoadSpec& spec);

}  // namespace gpuslots::bench
