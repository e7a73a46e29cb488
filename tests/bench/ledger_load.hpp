// Reserve+release load on a real SQLite ledger from one or many processes.
#pragma once

#include <string>
#include <vector>

#include "busy_handlers.hpp"
#include "gpuslots/config.hpp"

namespace gpuslots::bench {

struct LoadSpec {
    std::string dir;                   // work directory; the ledger and the workers' files go here
    std::string config_yaml;           // a whole config (fleet + state) for the ledger in `dir`
    std::vector<std::string> servers;  // worker i reserves on servers[i % size]
    int processes = 1;
    double seconds = 1.0;
    int gpus = 2;  // per reservation, as the Python baseline asks
    int cpus = 4;
    BusyPolicy busy;  // the project's handler unless told otherwise
    // Whether the ledger is SQLite, whose busy handler the driver swaps in (and checks that
    // it did); false for a MariaDB ledger, which has none.
    bool sqlite_busy_handler = true;
    // (Whether writers take turns through lib/'s write queue is state.write_queue in
    // config_yaml.)
};

struct LoadResult {
    long operations = 0;  // ledger calls that committed: each reserve and each release is one
    long failures = 0;    // calls that returned an error (busy, no_fit, ...): should be 0
    std::string first_failure;
    double wall_seconds = 0;
    double cpu_seconds = 0;          // user+system CPU of all workers
    std::vector<long> worker_ops;    // operations per worker (fairness)
    std::vector<double> latency_us;  // of every operation, all workers

    double ops_per_second() const {
        return wall_seconds > 0 ? static_cast<double>(operations) / wall_seconds : 0;
    }
    double cpu_us_per_op() const {
        return operations > 0 ? cpu_seconds * 1e6 / static_cast<double>(operations) : 0;
    }
    // Adds another slice of the same measurement.
    void add(const LoadResult& slice);
};

// Forks `processes` workers that open the ledger themselves, start together, and loop
// reserve (as a Slurm job, on a named server) + release until `seconds` have passed.
// Throws std::runtime_error when a worker cannot run at all.
LoadResult run_load(const LoadSpec& spec);

// Makes `operations` ledger operations (reserve, release, reserve, ... of Slurm jobs on
// `server`) the way the CLI and the plugin's hooks make them: each opens the ledger, makes one
// transaction and closes it, as a short-lived process does. (SQLite cannot tell the two
// apart: the last connection to close checkpoints, and the next one to open rebuilds the WAL
// index from the WAL file.) Uses durability normal whatever `config` says, only to be quick:
// it writes the same pages. Throws std::runtime_error on failure.
void short_lived_history(Config config, const std::string& server, int operations);

}  // namespace gpuslots::bench
