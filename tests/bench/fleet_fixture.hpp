// Large fleets for the scale benchmarks: a config file and a ledger already holding
// reservations, built once and reused by the in-process and whole-process figures.
#pragma once

#include <string>

namespace gpuslots::bench {

struct FleetFixture {
    std::string config_path;  // durability full, like a production config
    std::string ledger_path;
    int servers = 0;
    int reservations = 0;
    std::string busiest_server;  // a server in the middle of the fleet, for named reserves
};

// Writes DIR/fleet-<servers>.yaml (servers gpu-00000.., 8 GPUs and 64 CPUs each; one list
// entry per server, the parser's worst case) and fills DIR/fleet-<servers>.db with
// `reservations` Slurm reservations spread round-robin (1 or 2 GPUs and 8 CPUs each), unless
// a ledger with exactly that many reservations is already there. Throws on failure.
FleetFixture make_fleet_fixture(const std::string& dir, int servers, int reservations);

}  // namespace gpuslots::bench
