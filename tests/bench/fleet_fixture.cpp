#include "fleet_fixture.hpp"

#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "bench_common.hpp"
#include "gpuslots/config.hpp"
#include "gpuslots/ledger.hpp"

namespace gpuslots::bench {
namespace {

// Every run starts from the same file: the WAL checkpointed into the database and emptied.
// (Each gpuslots process that writes leaves its frames in the WAL, and the next process reads
// them all when it opens the ledger, so a fixture reused across runs would get slower with
// every run; see README.md, "The WAL grows without bound". This is the harness resetting its
// fixture, with SQLite directly, not something gpuslots does.)
void truncate_wal(const std::string& ledger_path) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(ledger_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 10'000);
        rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    }
    const std::string why = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    if (rc != SQLITE_OK) throw std::runtime_error("cannot checkpoint " + ledger_path + ": " + why);
}

void close(std::unique_ptr<Ledger> ledger) {
    ledger.reset();
}

}  // namespace

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
    if (static_cast<int>(existing->size()) == reservations) {
        close(std::move(*ledger));  // truncate_wal() needs the ledger to itself
        truncate_wal(f.ledger_path);
        return f;
    }
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
    close(std::move(*ledger));
    truncate_wal(f.ledger_path);
    return f;
}

}  // namespace gpuslots::bench
