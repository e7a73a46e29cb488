// gpuslots_bench: the benchmark driver. One subcommand per benchmark of tests/bench/README.md;
// tests/bench/run_all.sh runs them in interleaved rounds and prints the summary table.
#include <CLI/CLI.hpp>

#include <exception>
#include <filesystem>

#include "bench_common.hpp"
#include "commands.hpp"
#include "fleet_fixture.hpp"
#include "gpuslots/config.hpp"
#include "ledger_load.hpp"

namespace {

using namespace gpuslots::bench;

int run(int argc, char** argv) {
    CLI::App app{"gpuslots_bench: measures gpuslots against the disk and the original tool",
                 "gpuslots_bench"};
    app.require_subcommand(1, 1);
    std::function<void()> chosen;

    DurableOptions durable;
    auto* d = app.add_subcommand("durable", "1: reserve+release, 1 process, vs fsync/s");
    d->add_option("--dir", durable.dir, "Work directory (on the disk under test)")->required();
    d->add_option("--seconds", durable.seconds, "Seconds per phase");
    d->callback([&] { chosen = [&] { run_durable(durable); }; });

    ContentionOptions contention;
    auto* c = app.add_subcommand("contention", "2: reserve+release, N processes, vs fsync/s");
    c->add_option("--dir", contention.dir, "Work directory")->required();
    c->add_option("--processes", contention.processes, "Concurrent processes");
    c->add_option("--seconds", contention.seconds, "Seconds per phase");
    c->add_option("--policies", contention.policies,
                  "Write policies: project no-queue sqlite nap:MIN_US:MAX_US")
        ->delimiter(',');
    c->add_option("--round", contention.round, "Round number (rotates the policy order)");
    c->add_option("--seed-dir", contention.seed_dir, "Directory of seed_contention.py");
    c->add_option("--python", contention.python, "Python interpreter for the baseline");
    c->add_option("--seed-pairs", contention.seed_pairs, "Pairs per Python process");
    c->callback([&] { chosen = [&] { run_contention(contention); }; });

    CliPairOptions pair;
    auto* p = app.add_subcommand("cli-pair", "3: allocate+release as processes vs seed_v01.py");
    p->add_option("--gpuslots", pair.gpuslots, "The gpuslots binary")->required();
    p->add_option("--dir", pair.dir, "Work directory")->required();
    p->add_option("--runs", pair.runs, "Interleaved runs (on a new ledger, and again later)");
    p->add_option("--history", pair.history,
                  "Operations by short-lived processes between the two sets of runs");
    p->add_option("--seed-dir", pair.seed_dir, "Directory of seed_v01.py");
    p->add_option("--python", pair.python, "Python interpreter for the baseline");
    p->callback([&] { chosen = [&] { run_cli_pair(pair); }; });

    ScaleCliOptions scale;
    auto* s = app.add_subcommand("scale-cli", "5, 6: status and allocate at 10,000 vs 4 servers");
    s->add_option("--gpuslots", scale.gpuslots, "The gpuslots binary")->required();
    s->add_option("--dir", scale.dir, "Fixture directory (fleets are built once and reused)")
        ->required();
    s->add_option("--large", scale.large, "Servers in the large fleet");
    s->add_option("--reservations", scale.large_reservations, "Reservations in the large fleet");
    s->add_option("--small", scale.small, "Servers in the small fleet");
    s->add_option("--runs", scale.runs, "Interleaved runs");
    s->callback([&] { chosen = [&] { run_scale_cli(scale); }; });

    JsonOptions json;
    auto* j = app.add_subcommand("json", "8: status --json, streaming writer vs nlohmann-json");
    j->add_option("--servers", json.servers, "Servers");
    j->add_option("--reservations", json.reservations, "Reservations");
    j->add_option("--runs", json.runs, "Interleaved runs");
    j->callback([&] { chosen = [&] { run_json(json); }; });

    MariadbBenchOptions mdb;
    // Paths in the configs it writes are taken relative to the config's own directory.
    const auto absolute = [](MariadbBenchOptions m) {
        m.server_dir = std::filesystem::absolute(m.server_dir).string();
        m.dir = std::filesystem::absolute(m.dir).string();
        if (!m.fleet_dir.empty()) m.fleet_dir = std::filesystem::absolute(m.fleet_dir).string();
        return m;
    };
    const auto mariadb_options = [&mdb](CLI::App* a) {
        a->add_option("--server-dir", mdb.server_dir,
                      "A server started by tests/support/mariadb_server.sh")
            ->required();
        a->add_option("--dir", mdb.dir, "Work directory")->required();
    };
    auto* m9 = app.add_subcommand("mariadb-prolog", "9: prolog+epilog on MariaDB vs SQLite");
    mariadb_options(m9);
    m9->add_option("--runs", mdb.runs, "Interleaved prolog+epilog pairs per store");
    m9->callback([&] { chosen = [&] { run_mariadb_prolog(absolute(mdb)); }; });
    auto* m10 = app.add_subcommand("mariadb-contention",
                                   "10: N reservers on N servers vs on one, vs 1 client's commits");
    mariadb_options(m10);
    m10->add_option("--processes", mdb.processes, "Concurrent processes");
    m10->add_option("--seconds", mdb.seconds, "Seconds per measurement");
    m10->callback([&] { chosen = [&] { run_mariadb_contention(absolute(mdb)); }; });
    auto* m11 = app.add_subcommand("mariadb-status", "11: status --json at scale on MariaDB");
    mariadb_options(m11);
    m11->add_option("--gpuslots", mdb.gpuslots, "The gpuslots binary")->required();
    m11->add_option("--fleet-dir", mdb.fleet_dir, "Benchmark 5's fixtures (SQLite)");
    m11->add_option("--large", mdb.large, "Servers in the large fleet");
    m11->add_option("--reservations", mdb.large_reservations, "Reservations in the large fleet");
    m11->add_option("--small", mdb.small, "Servers in the small fleet");
    m11->add_option("--runs", mdb.runs, "Interleaved runs per fleet");
    m11->callback([&] { chosen = [&] { run_mariadb_status(absolute(mdb)); }; });

    std::string fleet_dir;
    int fleet_servers = 10'000;
    int fleet_reservations = 40'000;
    auto* f = app.add_subcommand("fleet", "Build a fleet fixture (config + filled ledger)");
    f->add_option("--dir", fleet_dir, "Fixture directory")->required();
    f->add_option("--servers", fleet_servers, "Servers");
    f->add_option("--reservations", fleet_reservations, "Reservations");
    f->callback([&] {
        chosen = [&] {
            const FleetFixture x = make_fleet_fixture(fleet_dir, fleet_servers, fleet_reservations);
            fmt::print("{}\n", x.config_path);
        };
    });

    std::string history_config;
    std::string history_server;
    int history_operations = 1000;
    auto* h = app.add_subcommand(
        "history", "Age a ledger: operations by short-lived processes, as on a busy node");
    h->add_option("--config", history_config, "Config file naming the ledger")->required();
    h->add_option("--server", history_server, "Server to reserve on")->required();
    h->add_option("--operations", history_operations, "Operations (reserve, release, ...)");
    h->callback([&] {
        chosen = [&] {
            auto config = gpuslots::load_config(history_config);
            if (!config) throw std::runtime_error(config.error().message);
            short_lived_history(*config, history_server, history_operations);
        };
    });

    CLI11_PARSE(app, argc, argv);
    chosen();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        fmt::print(stderr, "gpuslots_bench: {}\n", e.what());
    } catch (...) {
        fmt::print(stderr, "gpuslots_bench: unknown error\n");
    }
    return 1;
}
