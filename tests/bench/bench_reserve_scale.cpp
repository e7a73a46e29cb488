// Benchmark 6 in process (Google Benchmark): one reserve on a named server in a fleet of
// 10,000 servers holding 40,000 reservations, against the same in a fleet of 4 servers.
// The cost must not grow with the fleet. Also, to explain the whole-process figures of 5 and 6:
// parsing the fleet's config, and the status snapshot (read every reservation + summarize).
//
//   bench_reserve_scale [--dir=DIR] [--servers=10000] [--reservations=40000] [gbench flags]
//
// Besides Google Benchmark's table it prints "@ KEY VALUE" lines (medians, and the ratios
// large/small) for tests/bench/run_all.sh.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "bench_common.hpp"
#include "fleet_fixture.hpp"
#include "gpuslots/config.hpp"
#include "gpuslots/ledger.hpp"
#include "gpuslots/status.hpp"

namespace {

using namespace gpuslots;
using namespace gpuslots::bench;

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// A fleet fixture opened in this process with a given durability.
struct OpenFleet {
    FleetFixture fixture;
    std::string yaml;
    Config config;
    std::unique_ptr<Ledger> ledger;
};

std::unique_ptr<OpenFleet> open_fleet(const FleetFixture& f, const char* durability) {
    auto o = std::make_unique<OpenFleet>();
    o->fixture = f;
    o->yaml = read_text(f.config_path);
    const std::string from = "durability: full";
    o->yaml.replace(o->yaml.find(from), from.size(), std::string("durability: ") + durability);
    auto config = parse_config(o->yaml, f.config_path);
    if (!config) throw std::runtime_error(config.error().message);
    o->config = std::move(*config);
    auto ledger = open_ledger(o->config, Ledger::Access::read_write);
    if (!ledger) throw std::runtime_error(ledger.error().message);
    o->ledger = std::move(*ledger);
    return o;
}

// One reserve (timed) and its release (not timed) per iteration, as a Slurm job on the
// fixture's named server.
void reserve_on_named_server(benchmark::State& state, OpenFleet* fleet) {
    Request request;
    request.origin = Origin::slurm;
    request.gpus = 2;
    request.cpus = 8;
    long k = 0;
    const std::string& server = fleet->fixture.busiest_server;
    for (auto _ : state) {
        request.task_id = std::to_string(900'000'000L + k++);
        const auto t0 = Clock::now();
        auto r = fleet->ledger->reserve(server, request);
        const auto t1 = Clock::now();
        if (!r) {
            state.SkipWithError(r.error().message.c_str());
            break;
        }
        state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
        auto released = fleet->ledger->release(Origin::slurm, request.task_id, server);
        if (!released) {
            state.SkipWithError(released.error().message.c_str());
            break;
        }
    }
}

void parse_fleet_config(benchmark::State& state, OpenFleet* fleet) {
    for (auto _ : state) {
        auto config = parse_config(fleet->yaml, fleet->fixture.config_path);
        benchmark::DoNotOptimize(config);
    }
}

void status_snapshot(benchmark::State& state, OpenFleet* fleet) {
    for (auto _ : state) {
        auto rs = fleet->ledger->reservations();
        if (!rs) {
            state.SkipWithError(rs.error().message.c_str());
            break;
        }
        FleetStatus st = summarize(fleet->config.fleet, std::move(*rs));
        benchmark::DoNotOptimize(st);
    }
}

// Google Benchmark's console table, plus "@ KEY VALUE" lines for run_all.sh: the median (or
// the only run) of each benchmark in microseconds, and the large/small ratios at the end.
class ResultLines : public benchmark::ConsoleReporter {
  public:
    ResultLines() : ConsoleReporter(OO_Tabular) {}

    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const Run& run : runs) {
            if (run.error_occurred) continue;
            const bool aggregate = run.run_type == Run::RT_Aggregate;
            if (aggregate ? run.aggregate_name != "median" : run.repetitions > 1) continue;
            const double us =
                run.GetAdjustedRealTime() * (run.time_unit == benchmark::kMillisecond  ? 1e3
                                             : run.time_unit == benchmark::kNanosecond ? 1e-3
                                                                                       : 1.0);
            us_[run.run_name.function_name] = us;
        }
    }

    void Finalize() override {
        ConsoleReporter::Finalize();
        for (const auto& [name, us] : us_) {
            std::string key = name;
            std::replace(key.begin(), key.end(), '/', '_');
            result("b6." + key + "_us", us);
        }
        ratio("b6.reserve_large_over_small", "reserve/large/normal", "reserve/small/normal");
        ratio("b6.reserve_large_over_small_full", "reserve/large/full", "reserve/small/full");
        ratio("b6.parse_large_over_small", "parse/large", "parse/small");
        ratio("b5.snapshot_large_over_small", "snapshot/large", "snapshot/small");
    }

  private:
    void ratio(const std::string& key, const std::string& a, const std::string& b) {
        if (us_.count(a) && us_.count(b) && us_[b] > 0) result(key, us_[a] / us_[b]);
    }
    std::map<std::string, double> us_;
};

// Our own flags, taken out of argv before Google Benchmark sees it.
std::string take_flag(int& argc, char** argv, const std::string& name, const std::string& def) {
    const std::string prefix = "--" + name + "=";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.rfind(prefix, 0) == 0) {
            for (int j = i; j + 1 < argc; ++j)
                argv[j] = argv[j + 1];
            --argc;
            return a.substr(prefix.size());
        }
    }
    return def;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        std::string dir = take_flag(argc, argv, "dir", "");
        const int servers = std::stoi(take_flag(argc, argv, "servers", "10000"));
        const int reservations = std::stoi(take_flag(argc, argv, "reservations", "40000"));
        benchmark::Initialize(&argc, argv);
        if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
        bool own_dir = false;
        if (dir.empty()) {
            std::string pattern =
                (std::filesystem::temp_directory_path() / "gpuslots-bench-XXXXXX");
            if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
            dir = pattern;
            own_dir = true;
        }
        std::filesystem::create_directories(dir);
        const FleetFixture large = make_fleet_fixture(dir, servers, reservations);
        const FleetFixture small = make_fleet_fixture(dir, 4, 16);
        std::vector<std::unique_ptr<OpenFleet>> open;
        for (const char* durability : {"normal", "full"}) {
            for (const auto* f : {&small, &large}) {
                open.push_back(open_fleet(*f, durability));
                OpenFleet* o = open.back().get();
                const std::string size = f == &small ? "small" : "large";
                benchmark::RegisterBenchmark(
                    fmt::format("reserve/{}/{}", size, durability).c_str(),
                    [o](benchmark::State& s) { reserve_on_named_server(s, o); })
                    ->UseManualTime()
                    ->Unit(benchmark::kMicrosecond);
                if (std::string(durability) == "normal") {
                    benchmark::RegisterBenchmark(
                        fmt::format("parse/{}", size).c_str(),
                        [o](benchmark::State& s) { parse_fleet_config(s, o); })
                        ->Unit(benchmark::kMicrosecond);
                    benchmark::RegisterBenchmark(
                        fmt::format("snapshot/{}", size).c_str(),
                        [o](benchmark::State& s) { status_snapshot(s, o); })
                        ->Unit(benchmark::kMicrosecond);
                }
            }
        }
        ResultLines reporter;
        benchmark::RunSpecifiedBenchmarks(&reporter);
        benchmark::Shutdown();
        open.clear();
        if (own_dir) std::filesystem::remove_all(dir);
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "bench_reserve_scale: {}\n", e.what());
        return 1;
    }
}
