// Benchmarks 1 and 2: the library's reserve+release rate on a durable SQLite ledger.
//
// The disk of a shared machine changes speed from one second to the next (other people's
// builds and tests write to it too), so a reference measured before and after would not be
// "side by side". Every measurement here is cut into short slices that take turns (fsync
// probe, ledger variant 1, variant 2, ...; the order rotates each turn), and each figure is
// the sum over its slices.
#include <algorithm>
#include <filesystem>
#include <functional>
#include <regex>
#include <stdexcept>

#include "bench_common.hpp"
#include "commands.hpp"
#include "fsync_rate.hpp"
#include "ledger_load.hpp"
#include "process_timing.hpp"
#include "write_queue.hpp"

namespace gpuslots::bench {
namespace {

// The original tool's fleet shape (4 servers x 8 GPUs x 64 CPUs), so the Python baseline and
// gpuslots hold the same books.
constexpr int kServers = 4;

LoadSpec spec_for(const std::string& dir, const std::string& name, const char* durability,
                  bool write_queue = true) {
    LoadSpec spec;
    spec.dir = dir;
    const std::string ledger = fmt::format("{}/{}.db", dir, name);
    // The old ledger's writers' queue (in /dev/shm until a reboot) first, while it has a name.
    if (const std::string queue = sqlite::WriteQueue::path_for(ledger); !queue.empty())
        std::filesystem::remove(queue);
    for (const char* suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(ledger + suffix);
    spec.config_yaml = fleet_yaml(kServers, 8, 64, false) + state_yaml(ledger, durability) +
                       (write_queue ? "" : "  write_queue: false\n");
    for (int i = 0; i < kServers; ++i)
        spec.servers.push_back(server_name(i));
    return spec;
}

// "nap:250:2000" -> "nap_250_2000", "no-queue" -> "no_queue": plain result keys and file names.
std::string key_of(std::string policy) {
    std::replace(policy.begin(), policy.end(), ':', '_');
    std::replace(policy.begin(), policy.end(), '-', '_');
    return policy;
}

// The fsync probe's slices, summed, with the spread between slices (how much the disk moved).
struct FsyncTotal {
    long count = 0;
    double seconds = 0;
    double slowest = 0;
    double fastest = 0;
    void add(const FsyncRun& r) {
        count += r.count;
        seconds += r.seconds;
        slowest = slowest == 0 ? r.rate() : std::min(slowest, r.rate());
        fastest = std::max(fastest, r.rate());
    }
    double rate() const { return seconds > 0 ? static_cast<double>(count) / seconds : 0; }
};

double report_fsync(const FsyncTotal& f, const std::string& prefix) {
    fmt::print("{:<26} {:>6.0f} fsync/s (slices from {:.0f} to {:.0f}/s)\n",
               "disk: 4 KiB write+fsync", f.rate(), f.slowest, f.fastest);
    result(prefix + ".fsync_per_s", f.rate());
    result(prefix + ".fsync_slice_spread", f.slowest > 0 ? f.fastest / f.slowest : 0);
    return f.rate();
}

void report_load(const std::string& prefix, const std::string& label, const LoadResult& r,
                 double fsync_per_s) {
    const double p50 = percentile(r.latency_us, 50);
    const double p90 = percentile(r.latency_us, 90);
    const double p99 = percentile(r.latency_us, 99);
    const double p999 = percentile(r.latency_us, 99.9);
    const double max = percentile(r.latency_us, 100);
    long fewest = 0;
    long most = 0;
    if (!r.worker_ops.empty()) {
        fewest = *std::min_element(r.worker_ops.begin(), r.worker_ops.end());
        most = *std::max_element(r.worker_ops.begin(), r.worker_ops.end());
    }
    fmt::print(
        "{:<26} {:>6.0f} ops/s = {:.2f} x fsync/s | per op: p50 {:.2f} p90 {:.2f} p99 {:.2f} "
        "p99.9 {:.1f} max {:.0f} ms | CPU {:.0f} us/op | ops per worker {}..{} | failures {}\n",
        label, r.ops_per_second(), r.ops_per_second() / fsync_per_s, p50 / 1e3, p90 / 1e3,
        p99 / 1e3, p999 / 1e3, max / 1e3, r.cpu_us_per_op(), fewest, most, r.failures);
    if (r.failures > 0) fmt::print("  first failure: {}\n", r.first_failure);
    result(prefix + ".ops_per_s", r.ops_per_second());
    result(prefix + ".vs_fsync", r.ops_per_second() / fsync_per_s);
    result(prefix + ".p50_ms", p50 / 1e3);
    result(prefix + ".p90_ms", p90 / 1e3);
    result(prefix + ".p99_ms", p99 / 1e3);
    result(prefix + ".p999_ms", p999 / 1e3);
    result(prefix + ".max_ms", max / 1e3);
    result(prefix + ".cpu_us_per_op", r.cpu_us_per_op());
    result(prefix + ".failures", static_cast<double>(r.failures));
    if (most > 0)
        result(prefix + ".fairness", static_cast<double>(fewest) / static_cast<double>(most));
}

// Runs `turns` turns; in each, every measurement runs once for `slice` seconds, starting one
// further along each turn.
void take_turns(int turns, const std::vector<std::function<void()>>& measurements) {
    const std::size_t n = measurements.size();
    for (int t = 0; t < turns; ++t) {
        for (std::size_t j = 0; j < n; ++j)
            measurements[(static_cast<std::size_t>(t) + j) % n]();
    }
}

int turns_for(double seconds, double slice) {
    return std::max(1, static_cast<int>(seconds / slice + 0.5));
}

}  // namespace

void run_durable(const DurableOptions& o) {
    std::filesystem::create_directories(o.dir);
    const double slice = std::min(o.seconds, 0.25);
    const int turns = turns_for(o.seconds, slice);
    fmt::print("== 1: reserve+release, 1 process, SQLite ledger in {}; {} turns of {} s ==\n",
               o.dir, turns, slice);
    LoadSpec full = spec_for(o.dir, "b1-full", "full");
    LoadSpec normal = spec_for(o.dir, "b1-normal", "normal");
    full.seconds = normal.seconds = slice;
    FsyncTotal fsync;
    LoadResult rf;
    LoadResult rn;
    take_turns(turns, {[&] { fsync.add(fsync_loop(o.dir, slice)); },
                       [&] { rf.add(run_load(full)); }, [&] { rn.add(run_load(normal)); }});
    const double fsync_per_s = report_fsync(fsync, "b1");
    report_load("b1.full", "durability full (default)", rf, fsync_per_s);
    report_load("b1.normal", "durability normal", rn, fsync_per_s);
    result("b1.normal_over_full", rn.ops_per_second() / rf.ops_per_second());
}

void run_contention(const ContentionOptions& o) {
    std::filesystem::create_directories(o.dir);
    // Long enough for starvation to show (SQLite's handler sleeps up to 100 ms at a time).
    const double slice = std::min(o.seconds, 1.0);
    const int turns = turns_for(o.seconds, slice);
    fmt::print("== 2: reserve+release, {} processes, SQLite ledger in {}; {} turns of {} s ==\n",
               o.processes, o.dir, turns, slice);
    std::vector<LoadSpec> specs;
    std::vector<LoadResult> results(o.policies.size());
    for (const auto& policy : o.policies) {
        const bool queued = policy == "project";
        LoadSpec spec = spec_for(o.dir, "b2-" + key_of(policy), "full", queued);
        spec.processes = o.processes;
        spec.seconds = slice;
        spec.busy = parse_busy_policy(queued || policy == "no-queue" ? "project" : policy);
        specs.push_back(spec);
    }
    FsyncTotal fsync;
    std::vector<std::function<void()>> measurements{[&] { fsync.add(fsync_loop(o.dir, slice)); }};
    for (std::size_t i = 0; i < specs.size(); ++i)
        measurements.push_back([&, i] { results[i].add(run_load(specs[i])); });
    // The round number rotates the starting point, so no policy always goes first.
    std::rotate(measurements.begin(),
                measurements.begin() + (o.round % static_cast<int>(measurements.size())),
                measurements.end());
    take_turns(turns, measurements);

    double python_ops = 0;
    if (!o.seed_dir.empty()) {
        const std::string seed_state = o.dir + "/seed-contention";
        std::filesystem::remove_all(seed_state);
        const std::string out =
            run_capture({o.python, o.seed_dir + "/seed_contention.py", std::to_string(o.processes),
                         std::to_string(o.seed_pairs)},
                        {"SEED_DIR=" + seed_state});
        std::smatch m;
        if (!std::regex_search(out, m, std::regex("ops/s=([0-9.]+)"))) {
            throw std::runtime_error("seed_contention.py printed no ops/s: " + out);
        }
        python_ops = std::stod(m[1]);
    }

    const double fsync_per_s = report_fsync(fsync, "b2");
    const LoadResult* project = nullptr;
    for (std::size_t i = 0; i < o.policies.size(); ++i) {
        const std::string& policy = o.policies[i];
        const std::string label = policy == "project"    ? "write queue (lib/)"
                                  : policy == "no-queue" ? "no queue, lib/ handler"
                                  : policy == "sqlite"   ? "no queue, SQLite handler"
                                                         : "no queue, candidate " + policy;
        report_load("b2." + key_of(policy), label, results[i], fsync_per_s);
        if (policy == "project") project = &results[i];
    }
    if (project != nullptr) {
        for (std::size_t i = 0; i < o.policies.size(); ++i) {
            if (o.policies[i] == "project") continue;
            const std::string key = "b2." + key_of(o.policies[i]);
            result(key + "_over_project", results[i].ops_per_second() / project->ops_per_second());
            result(key + "_p99_over_project",
                   percentile(results[i].latency_us, 99) / percentile(project->latency_us, 99));
        }
    }
    if (python_ops > 0) {
        fmt::print(
            "{:<26} {:>6.0f} ops/s (seed_contention.py {} {}, no fsync at all; run after "
            "the slices above)\n",
            "Python baseline", python_ops, o.processes, o.seed_pairs);
        result("b2.python_ops_per_s", python_ops);
        if (project != nullptr) {
            result("b2.project_vs_python", project->ops_per_second() / python_ops);
        }
    } else {
        fmt::print("Python baseline: skipped (no --seed-dir; ../shared/baseline not found)\n");
    }
}

}  // namespace gpuslots::bench
