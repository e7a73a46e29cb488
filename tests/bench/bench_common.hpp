// Shared pieces of the benchmark driver: clocks, order statistics, result lines, fleet YAML.
//
// Every figure the driver measures is printed twice: for people ("b1: fsync 12345/s ...") and
// as a result line "@ KEY VALUE" that tests/bench/run_all.sh collects over repeated rounds and
// turns into the summary table (median and spread of each ratio).
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gpuslots::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

inline double micros_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::micro>(b - a).count();
}

// Nearest-rank percentile (p in 0..100) of `v`; sorts a copy. 0 for an empty sample.
inline double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const auto rank =
        static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

inline double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// One machine-readable result: "@ KEY VALUE". Keys are stable; run_all.sh knows them.
inline void result(std::string_view key, double value) {
    fmt::print("@ {} {:.6g}\n", key, value);
    std::fflush(stdout);
}

// A fleet of `servers` servers named gpu-00000.. with `gpus` GPUs and `cpus` CPUs each, as
// YAML. `one_entry_per_server` writes 10,000 list entries for 10,000 servers (the worst case
// for the parser: a heterogeneous fleet); otherwise one hostlist entry covers them all.
inline std::string fleet_yaml(int servers, int gpus, int cpus, bool one_entry_per_server) {
    std::string out = "servers:\n";
    if (one_entry_per_server) {
        for (int i = 0; i < servers; ++i) {
            out += fmt::format("  - name: gpu-{:05d}\n    gpus: {}\n    cpus: {}\n", i, gpus, cpus);
        }
    } else {
        out += fmt::format("  - name: gpu-[00000-{:05d}]\n    gpus: {}\n    cpus: {}\n",
                           servers - 1, gpus, cpus);
    }
    return out;
}

inline std::string server_name(int i) {
    return fmt::format("gpu-{:05d}", i);
}

inline std::string state_yaml(const std::string& ledger_path, const char* durability) {
    return fmt::format("state:\n  path: {}\n  durability: {}\n", ledger_path, durability);
}

}  // namespace gpuslots::bench
