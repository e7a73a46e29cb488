#include "fleet_fixture.hpp"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "bench_common.hpp"
#include "gpuslots/config.hpp"
#include "gpuslots/ledger.hpp"

namespace gpuslots::bench {

FleetFixture make_fleet_fixture(const std::string& dir, int servers, int reservations) {
    constexpr int kGpus = 8;
    constexpr int kCpus = 64;
    if (servers < 1 || reservations < 0 || reservations > servers * (kCpus / 8)) {
        throw std::invalid_argument("fleet fixture: at most 8 reservations per server");
    }
    std::filesystem::create_directories(dir);
    FleetFixture f;
    f.servers = servers;
    f.reservations = reservations;
    f.config_path = fmt::format("{}/fleet-{}.yaml", dir, servers);
    f.ledger_path = fmt::format("{}/fleet-{}.db", dir, servers);
    f.busiest_server = server_name(servers / 2);
    const std::string fleet = fleet_yaml(servers, kGpus, kCpus, true);
    {
        std::ofstream out(f.config_path, std::ios::trunc);
        out << fleet << state_yaml(f.ledger_path, "full");
        if (!out) throw std::runtime_error("cannot write " + f.config_path);
    }
    // Filling goes through the library like any caller, with durability normal only so that
    // 40,000 commits do not take 40,000 fsyncs; the file is the same either way.
    auto config = parse_config(fleet + state_yaml(f.ledger_path, "normal"), f.config_path);
    if (!config) throw std::runtime_error(config.error().message);
    auto ledger = open_ledger(*config, Ledger::Access::read_write);
    if (!ledger) throw std::runtime_error(ledger.error().message);
    auto existing = (*ledger)->reservations();
    if (!existing) throw std::runtime_error(existing.error().message);
    if (static_cast<int>(existing->size()) == reservations) return f;
    if (auto cleared = (*ledger)->reset(); !cleared)
        throw std::runtime_error(cleared.error().message);
    Request request;
    request.origin = Origin::slurm;
    request.cpus = 8;
    for (int k = 0; k < reservations; ++k) {
        request.task_id = std::to_string(1'000'000 + k);
        request.gpus = 1 + (k / servers) % 2;  // 1, 2, 1, 2, ... per server: 6 of 8 at 4 each
        auto r = (*ledger)->reserve(server_name(k % servers), request);
        if (!r) throw std::runtime_error("fleet fixture: " + r.error().message);
    }
    return f;
}

}  // namespace gpuslots::bench
