// Benchmarks 3, 5 and 6 (whole process): the `gpuslots` tool as users run it.
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

#include "bench_common.hpp"
#include "commands.hpp"
#include "fleet_fixture.hpp"
#include "gpuslots/config.hpp"
#include "ledger_load.hpp"
#include "process_timing.hpp"

namespace gpuslots::bench {
namespace {

// Samples of one figure over the interleaved runs of one invocation.
class Samples {
  public:
    void add(const std::string& key, double v) { samples_[key].push_back(v); }
    double median_of(const std::string& key) const { return median(samples_.at(key)); }

  private:
    std::map<std::string, std::vector<double>> samples_;
};

void write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace

void run_cli_pair(const CliPairOptions& o) {
    std::filesystem::create_directories(o.dir);
    fmt::print(
        "== 3: one allocate + release pair as processes, {} interleaved runs on a new "
        "ledger, {} after {} more operations ==\n",
        o.runs, o.runs, o.history);
    const std::string config = o.dir + "/b3.yaml";
    const std::string ledger = o.dir + "/b3.db";
    for (const char* suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(ledger + suffix);
    // The original tool's fleet and the default durability (full): what a user would run.
    const std::string fleet = fleet_yaml(4, 8, 64, false);
    write_text(config, fleet + fmt::format("state:\n  path: {}\n", ledger));
    const std::string seed_state = "SEED_DIR=" + o.dir + "/seed-cli";
    const bool with_python = !o.seed_dir.empty();
    const std::string seed = o.seed_dir + "/seed_v01.py";

    const auto gpuslots_pair = [&](const std::string& id) {
        const double a =
            run_checked({o.gpuslots, "--config", config, "allocate", id, "2", "4"}).wall_ms;
        const double r = run_checked({o.gpuslots, "--config", config, "release", id}).wall_ms;
        return std::make_pair(a, r);
    };
    const auto python_pair = [&](const std::string& id) {
        const double a =
            run_checked({o.python, seed, "--allocate", id, "2", "4"}, {seed_state}).wall_ms;
        const double r = run_checked({o.python, seed, "--release", id}, {seed_state}).wall_ms;
        return a + r;
    };
    // Warm-up: creates both ledgers and loads both programs into the page cache.
    gpuslots_pair("warm-up");
    if (with_python) {
        run_checked({o.python, seed, "--reset", "--yes"}, {seed_state});
        python_pair("warm-up");
    }
    Samples s;
    const auto measure = [&](const std::string& phase) {
        for (int i = 0; i < o.runs; ++i) {
            const std::string id = fmt::format("bench-{}-{}", phase, i);
            const auto measure_gpuslots = [&] {
                auto [a, r] = gpuslots_pair(id);
                s.add(phase + "allocate", a);
                s.add(phase + "release", r);
                s.add(phase + "gpuslots", a + r);
            };
            if (i % 2 == 0) measure_gpuslots();
            if (with_python) s.add(phase + "python", python_pair(id));
            if (i % 2 == 1) measure_gpuslots();
            s.add("true", run_checked({"/bin/true"}).wall_ms);
        }
    };
    measure("");
    {
        auto history = parse_config(fleet + state_yaml(ledger, "normal"), config);
        if (!history) throw std::runtime_error(history.error().message);
        short_lived_history(*history, server_name(0), o.history);
    }
    std::error_code ec;
    const auto wal_bytes = std::filesystem::file_size(ledger + "-wal", ec);
    measure("history_");

    const double g = s.median_of("gpuslots");
    const double gh = s.median_of("history_gpuslots");
    fmt::print(
        "gpuslots allocate+release    {:7.2f} ms (allocate {:.2f}, release {:.2f}; "
        "spawning /bin/true: {:.2f} ms)\n",
        g, s.median_of("allocate"), s.median_of("release"), s.median_of("true"));
    fmt::print(
        "  after {} more operations  {:7.2f} ms (allocate {:.2f}, release {:.2f}; the WAL "
        "file then held {} KiB)\n",
        o.history, gh, s.median_of("history_allocate"), s.median_of("history_release"),
        ec ? 0 : wal_bytes / 1024);
    result("b3.gpuslots_pair_ms", g);
    result("b3.allocate_ms", s.median_of("allocate"));
    result("b3.release_ms", s.median_of("release"));
    result("b3.true_ms", s.median_of("true"));
    result("b3.history_gpuslots_pair_ms", gh);
    result("b3.history_over_new", gh / g);
    if (!ec) result("b3.history_wal_kib", static_cast<double>(wal_bytes) / 1024.0);
    if (with_python) {
        const double p = s.median_of("python");
        const double ph = s.median_of("history_python");
        fmt::print(
            "seed_v01.py allocate+release {:7.2f} ms -> gpuslots is {:.1f} x faster; after "
            "the history: {:.2f} ms, {:.1f} x\n",
            p, p / g, ph, ph / gh);
        result("b3.python_pair_ms", p);
        result("b3.python_over_gpuslots", p / g);
        result("b3.history_python_over_gpuslots", ph / gh);
    } else {
        fmt::print("Python baseline: skipped (no --seed-dir; ../shared/baseline not found)\n");
    }
}

void run_scale_cli(const ScaleCliOptions& o) {
    std::filesystem::create_directories(o.dir);
    fmt::print(
        "== 5, 6: status --json and allocate --server + release as processes: {} vs {} "
        "servers, {} interleaved runs ==\n",
        o.large, o.small, o.runs);
    const FleetFixture large = make_fleet_fixture(o.dir, o.large, o.large_reservations);
    const FleetFixture small = make_fleet_fixture(o.dir, o.small, o.small * 4);
    // The same large fleet written as one hostlist entry instead of one entry per server.
    const std::string large_hostlist = fmt::format("{}/fleet-{}-hostlist.yaml", o.dir, o.large);
    write_text(large_hostlist,
               fleet_yaml(o.large, 8, 64, false) + state_yaml(large.ledger_path, "full"));

    struct Case {
        std::string key;
        std::string config;
        std::string server;
    };
    const std::vector<Case> cases{{"small", small.config_path, small.busiest_server},
                                  {"large", large.config_path, large.busiest_server},
                                  {"large_hostlist", large_hostlist, large.busiest_server}};
    Samples s;
    for (int i = 0; i < o.runs; ++i) {
        for (std::size_t k = 0; k < cases.size(); ++k) {
            const Case& c = cases[(k + static_cast<std::size_t>(i)) % cases.size()];
            s.add("status_" + c.key,
                  run_checked({o.gpuslots, "--config", c.config, "status", "--json"}).wall_ms);
            const std::string id = fmt::format("b6-{}", i);
            const double a = run_checked({o.gpuslots, "--config", c.config, "allocate", id, "2",
                                          "8", "--server", c.server})
                                 .wall_ms;
            const double r = run_checked({o.gpuslots, "--config", c.config, "release", id}).wall_ms;
            s.add("pair_" + c.key, a + r);
        }
    }
    for (const auto& c : cases) {
        const double rss =
            peak_rss_mib({o.gpuslots, "--config", c.config, "status", "--json"}, o.dir);
        fmt::print(
            "{:<15} status --json {:7.1f} ms, peak RSS {} | allocate --server + release "
            "{:6.1f} ms\n",
            c.key, s.median_of("status_" + c.key),
            rss < 0 ? std::string("? (no /usr/bin/time)") : fmt::format("{:.1f} MiB", rss),
            s.median_of("pair_" + c.key));
        result("b5.status_" + c.key + "_ms", s.median_of("status_" + c.key));
        if (rss >= 0) result("b5.status_" + c.key + "_rss_mib", rss);
        result("b6.cli_" + c.key + "_ms", s.median_of("pair_" + c.key));
    }
    result("b5.status_large_over_small", s.median_of("status_large") / s.median_of("status_small"));
    result("b6.cli_large_over_small", s.median_of("pair_large") / s.median_of("pair_small"));
    result("b6.cli_large_hostlist_over_small",
           s.median_of("pair_large_hostlist") / s.median_of("pair_small"));
}

}  // namespace gpuslots::bench
