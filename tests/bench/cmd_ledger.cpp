// Benchmarks 1 and 2: the library's reserve+release rate on a durable SQLite ledger.
#include <algorithm>
#include <filesystem>
#include <regex>
#include <stdexcept>

#include "bench_common.hpp"
#include "commands.hpp"
#include "fsync_rate.hpp"
#include "ledger_load.hpp"
#include "process_timing.hpp"

namespace gpuslots::bench {
namespace {

// The original tool's fleet shape (4 servers x 8 GPUs x 64 CPUs), so the Python baseline and
// gpuslots hold the same books.
constexpr int kServers = 4;

LoadSpec spec_for(const std::string& dir, const std::string& name, const char* durability) {
    LoadSpec spec;
    spec.dir = dir;
    const std::string ledger = fmt::format("{}/{}.db", dir, name);
    std::filesystem::remove(ledger);
    std::filesystem::remove(ledger + "-wal");
    std::filesystem::remove(ledger + "-shm");
    spec.config_yaml = fleet_yaml(kServers, 8, 64, false) + state_yaml(ledger, durability);
    for (int i = 0; i < kServers; ++i)
        spec.servers.push_back(server_name(i));
    return spec;
}

void report_load(const std::string& prefix, const std::string& label, const LoadResult& r,
                 double fsync_per_s) {
    const double p50 = percentile(r.latency_us, 50);
    const double p90 = percentile(r.latency_us, 90);
    const double p99 = percentile(r.latency_us, 99);
    const double p999 = percentile(r.latency_us, 99.9);
    const double max = percentile(r.latency_us, 100);
    fmt::print(
        "{:<26} {:>6.0f} ops/s = {:.2f} x fsync/s | per op: p50 {:.2f} p90 {:.2f} p99 {:.2f} "
        "p99.9 {:.1f} max {:.0f} ms | CPU {:.0f} us/op | ops per worker {}..{} | failures {}\n",
        label, r.ops_per_second, r.ops_per_second / fsync_per_s, p50 / 1e3, p90 / 1e3, p99 / 1e3,
        p999 / 1e3, max / 1e3, r.cpu_us_per_op, r.fewest_worker_ops, r.most_worker_ops,
        r.failures);
    if (r.failures > 0) fmt::print("  first failure: {}\n", r.first_failure);
    result(prefix + ".ops_per_s", r.ops_per_second);
    result(prefix + ".vs_fsync", r.ops_per_second / fsync_per_s);
    result(prefix + ".p50_ms", p50 / 1e3);
    result(prefix + ".p90_ms", p90 / 1e3);
    result(prefix + ".p99_ms", p99 / 1e3);
    result(prefix + ".p999_ms", p999 / 1e3);
    result(prefix + ".max_ms", max / 1e3);
    result(prefix + ".cpu_us_per_op", r.cpu_us_per_op);
    result(prefix + ".failures", static_cast<double>(r.failures));
    if (r.most_worker_ops > 0) {
        result(prefix + ".fairness", static_cast<double>(r.fewest_worker_ops) /
                                         static_cast<double>(r.most_worker_ops));
    }
}

// fsync/s before and after a set of phases; their mean is the reference for the phases.
double fsync_reference(double before, double after, const std::string& prefix) {
    const double mean = (before + after) / 2;
    fmt::print("{:<26} {:>8.0f} fsync/s (before {:.0f}, after {:.0f})\n", "disk: 4 KiB write+fsync",
               mean, before, after);
    result(prefix + ".fsync_per_s", mean);
    result(prefix + ".fsync_drift", after / before);
    return mean;
}

// "nap:250:2000" -> "nap_250_2000": result keys and file names without colons.
std::string key_of(std::string policy) {
    std::replace(policy.begin(), policy.end(), ':', '_');
    return policy;
}

}  // namespace

void run_durable(const DurableOptions& o) {
    std::filesystem::create_directories(o.dir);
    fmt::print("== 1: reserve+release, 1 process, SQLite ledger in {} ==\n", o.dir);
    const double before = fsync_rate(o.dir, o.seconds);
    LoadSpec full = spec_for(o.dir, "b1-full", "full");
    full.seconds = o.seconds;
    const LoadResult rf = run_load(full);
    LoadSpec normal = spec_for(o.dir, "b1-normal", "normal");
    normal.seconds = o.seconds;
    const LoadResult rn = run_load(normal);
    const double fsync = fsync_reference(before, fsync_rate(o.dir, o.seconds), "b1");
    report_load("b1.full", "durability full (default)", rf, fsync);
    report_load("b1.normal", "durability normal", rn, fsync);
    result("b1.normal_over_full", rn.ops_per_second / rf.ops_per_second);
}

void run_contention(const ContentionOptions& o) {
    std::filesystem::create_directories(o.dir);
    fmt::print("== 2: reserve+release, {} processes, SQLite ledger in {} ==\n", o.processes, o.dir);
    std::vector<std::string> order = o.policies;
    if (!order.empty()) {
        std::rotate(order.begin(), order.begin() + (o.round % static_cast<int>(order.size())),
                    order.end());
    }
    const double before = fsync_rate(o.dir, o.seconds);
    std::vector<std::pair<std::string, LoadResult>> runs;
    for (const auto& policy : order) {
        LoadSpec spec = spec_for(o.dir, "b2-" + key_of(policy), "full");
        spec.processes = o.processes;
        spec.seconds = o.seconds;
        spec.queue_lock = policy == "queue";
        spec.busy = parse_busy_policy(policy == "queue" ? "project" : policy);
        runs.emplace_back(policy, run_load(spec));
    }
    double python_ops = 0;
    if (!o.seed_dir.empty()) {
        const std::string seed_state = o.dir + "/seed-contention";
        std::filesystem::remove_all(seed_state);
        const std::string out = run_capture(
            {o.python, o.seed_dir + "/seed_contention.py", std::to_string(o.processes),
             std::to_string(o.seed_pairs)},
            {"SEED_DIR=" + seed_state});
        std::smatch m;
        if (!std::regex_search(out, m, std::regex("ops/s=([0-9.]+)"))) {
            throw std::runtime_error("seed_contention.py printed no ops/s: " + out);
        }
        python_ops = std::stod(m[1]);
    }
    const double fsync = fsync_reference(before, fsync_rate(o.dir, o.seconds), "b2");
    const LoadResult* project = nullptr;
    for (const auto& [policy, r] : runs) {
        const std::string label =
            policy == "project"  ? "busy handler: project"
            : policy == "sqlite" ? "busy handler: SQLite's"
            : policy == "queue"  ? "project + flock queue"
                                 : "candidate " + policy;
        report_load("b2." + key_of(policy), label, r, fsync);
        if (policy == "project") project = &r;
    }
    if (project != nullptr) {
        for (const auto& [policy, r] : runs) {
            if (policy == "project") continue;
            result("b2." + key_of(policy) + "_over_project",
                   r.ops_per_second / project->ops_per_second);
            result("b2." + key_of(policy) + "_p99_over_project",
                   percentile(r.latency_us, 99) / percentile(project->latency_us, 99));
        }
    }
    if (python_ops > 0) {
        fmt::print("{:<26} {:>8.0f} ops/s (seed_contention.py {} {}, no fsync at all)\n",
                   "Python baseline", python_ops, o.processes, o.seed_pairs);
        result("b2.python_ops_per_s", python_ops);
        if (project != nullptr) result("b2.project_vs_python", project->ops_per_second / python_ops);
    } else {
        fmt::print("Python baseline: skipped (no --seed-dir; ../shared/baseline not found)\n");
    }
}

}  // namespace gpuslots::bench
