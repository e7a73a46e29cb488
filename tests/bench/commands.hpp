// The driver's subcommands. Each measures one benchmark of tests/bench/README.md side by side
// with its reference, prints a readable report and "@ KEY VALUE" result lines, and throws
// std::runtime_error when it cannot measure (never because something was slow).
#pragma once

#include <string>
#include <vector>

namespace gpuslots::bench {

// 1: reserve+release in one process, durability full and normal, against fsync/s.
struct DurableOptions {
    std::string dir;
    double seconds = 2.0;  // per phase
};
void run_durable(const DurableOptions& o);

// 2: the same with many processes, per way of waiting for the write lock, against fsync/s and the
// Python baseline (seed_contention.py) when its directory is given.
struct ContentionOptions {
    std::string dir;
    int processes = 16;
    double seconds = 2.0;
    // project: lib/ as shipped (write queue + its busy handler); no-queue: state.write_queue
    // false (SQLite's lock and lib/'s busy handler); sqlite: no queue and SQLite's own
    // busy_timeout handler; nap:MIN_US:MAX_US: no queue and a candidate handler.
    std::vector<std::string> policies{"project", "no-queue", "sqlite"};
    int round = 0;         // rotates the order of the policies between rounds
    std::string seed_dir;  // ../shared/baseline, optional
    std::string python = "python3";
    int seed_pairs = 100;  // allocate+release pairs per Python process
};
void run_contention(const ContentionOptions& o);

// 3: `gpuslots allocate` + `gpuslots release` as processes against seed_v01.py, on a new
// ledger and again after `history` operations made by short-lived processes (what a node's
// ledger has behind it after history/2 Slurm jobs).
struct CliPairOptions {
    std::string gpuslots;
    std::string dir;
    int runs = 20;
    int history = 1000;
    std::string seed_dir;
    std::string python = "python3";
};
void run_cli_pair(const CliPairOptions& o);

// 5 and 6 (whole process): status --json and allocate --server + release, large fleet
// against small fleet.
struct ScaleCliOptions {
    std::string gpuslots;
    std::string dir;  // where the fleet fixtures live (made when missing)
    int large = 10'000;
    int large_reservations = 40'000;
    int small = 4;
    int runs = 10;
};
void run_scale_cli(const ScaleCliOptions& o);

// 8 (in process): status --json written by the tool's streaming writer against the same
// document built as an nlohmann-json tree and dumped.
struct JsonOptions {
    int servers = 10'000;
    int reservations = 40'000;
    int runs = 20;
};
void run_json(const JsonOptions& o);

// 9, 10, 11: the shared ledger on MariaDB, on a server that tests/support/mariadb_server.sh
// started in `server_dir` (its socket, admin.cnf, db.cnf, read.cnf; databases gt_bench_*).
struct MariadbBenchOptions {
    std::string server_dir;
    std::string dir;            // work directory (SQLite ledgers, configs, worker files)
    std::string fleet_dir;      // 11: benchmark 5's fixtures (default dir/fleet)
    std::string gpuslots;       // 11: the tool
    int runs = 200;             // 9: prolog+epilog pairs per store; 11: status runs per fleet
    int processes = 16;         // 10
    double seconds = 2.0;       // 10: per measurement, in turns of at most 1 s
    int large = 10'000;         // 11
    int large_reservations = 40'000;
    int small = 4;
};
// 9: one prolog reserve + epilog release, each opening the ledger as the hooks do, MariaDB vs
// SQLite (durability full), interleaved: median and p99.
void run_mariadb_prolog(const MariadbBenchOptions& o);
// 10: `processes` workers reserve+release each on its own server vs all on one server, and
// their commits/s against one client's durable commits/s on the same server, in turns.
void run_mariadb_contention(const MariadbBenchOptions& o);
// 11: `gpuslots status --json` at `large` servers x 8 GPUs with `large_reservations` on
// MariaDB, against `small` servers on MariaDB and the same fleet on SQLite.
void run_mariadb_status(const MariadbBenchOptions& o);

}  // namespace gpuslots::bench
