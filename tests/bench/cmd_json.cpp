// Benchmark 8: writing `status --json` for 10,000 servers x 8 GPUs and 40,000 reservations,
// in process, with the tool's streaming writer (tools/json_writer.hpp, exactly the code
// `gpuslots status --json` runs) against building the same document as an nlohmann-json tree
// and dumping it. Both must produce the same text, or the benchmark fails: the figure compares
// two ways of writing one output, not two outputs.
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <ctime>
#include <stdexcept>

#include "bench_common.hpp"
#include "cli.hpp"
#include "commands.hpp"
#include "status_view.hpp"

namespace gpuslots::bench {
namespace {

// The fleet status as summarize() would build it, without a ledger: reservation i on server
// i % servers, 2 GPUs and 8 CPUs each, Slurm jobs owned by the running user.
FleetStatus synthetic_status(int servers, int reservations) {
    FleetStatus st;
    st.servers.resize(static_cast<std::size_t>(servers));
    for (int i = 0; i < servers; ++i) {
        auto& s = st.servers[static_cast<std::size_t>(i)];
        s = ServerStatus{server_name(i), 8, 8, 64, 64, {}};
    }
    for (int i = 0; i < reservations; ++i) {
        auto& s = st.servers[static_cast<std::size_t>(i % servers)];
        const int first = 8 - s.gpus_free;
        Reservation r{Origin::slurm,
                      std::to_string(100000 + i),
                      s.name,
                      {first, first + 1},
                      2,
                      8,
                      ::getuid(),
                      1764700000 + i,
                      "0f3c6e2a-6a43-4d6b-9a2e-1b7d1c9e5f21",
                      std::nullopt};
        s.gpus_free -= 2;
        s.cpus_free -= 8;
        s.tasks.push_back(std::move(r));
    }
    for (const auto& s : st.servers) {
        st.totals.gpus_total += s.gpus_total;
        st.totals.gpus_free += s.gpus_free;
        st.totals.cpus_total += s.cpus_total;
        st.totals.cpus_free += s.cpus_free;
        st.totals.tasks += static_cast<long long>(s.tasks.size());
    }
    return st;
}

nlohmann::ordered_json server_tree(const ServerStatus& s) {
    nlohmann::ordered_json tasks = nlohmann::ordered_json::array();
    for (const auto& r : s.tasks) {
        std::string since;
        append_utc_iso8601(since, r.created_unix);
        nlohmann::ordered_json expires = nullptr;
        if (r.expires_unix) {
            std::string at;
            append_utc_iso8601(at, *r.expires_unix);
            expires = at;
        }
        tasks.push_back({{"id", r.task_id},
                         {"gpus", r.gpus},
                         {"cpus", r.cpus},
                         {"origin", origin_name(r.origin)},
                         {"owner", cli::user_name(r.owner_uid)},
                         {"owner_uid", r.owner_uid},
                         {"since", since},
                         {"boot_id", r.boot_id.empty() ? nlohmann::ordered_json(nullptr)
                                                       : nlohmann::ordered_json(r.boot_id)},
                         {"expires_at", std::move(expires)}});
    }
    return {{"name", s.name},           {"gpus_total", s.gpus_total},
            {"gpus_free", s.gpus_free}, {"cpus_total", s.cpus_total},
            {"cpus_free", s.cpus_free}, {"tasks", std::move(tasks)}};
}

std::string nlohmann_status_json(const FleetStatus& st, const std::string& config,
                                 const std::string& ledger) {
    nlohmann::ordered_json doc;
    auto& servers = doc["servers"] = nlohmann::ordered_json::array();
    for (const auto& s : st.servers)
        servers.push_back(server_tree(s));
    const Totals& t = st.totals;
    doc["totals"] = {{"gpus_total", t.gpus_total},
                     {"gpus_free", t.gpus_free},
                     {"cpus_total", t.cpus_total},
                     {"cpus_free", t.cpus_free},
                     {"tasks", t.tasks}};
    auto& removed = doc["removed_servers"] = nlohmann::ordered_json::array();
    for (const auto& s : st.removed)
        removed.push_back(server_tree(s));
    doc["problems"] = st.problems;
    doc["config"] = config;
    doc["ledger"] = ledger;
    return doc.dump();
}

double thread_cpu_ms() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

}  // namespace

void run_json(const JsonOptions& o) {
    fmt::print("== 8: status --json written in process, {} servers, {} reservations, {} runs ==\n",
               o.servers, o.reservations, o.runs);
    const FleetStatus st = synthetic_status(o.servers, o.reservations);
    const std::string config = "/etc/gpuslots/gpuslots.yaml";
    const std::string ledger = "/var/lib/gpuslots/state.db";
    if (cli::status_json(st, config, ledger) != nlohmann_status_json(st, config, ledger)) {
        throw std::runtime_error("the two writers disagree: not the same document");
    }
    // Wall time, and this thread's CPU time: on a shared machine the second is what the
    // writer itself costs.
    std::vector<double> streaming, tree, streaming_cpu, tree_cpu;
    std::size_t bytes = 0;
    for (int run = 0; run < o.runs; ++run) {  // interleaved, so drift hits both alike
        const double c0 = thread_cpu_ms();
        auto t0 = Clock::now();
        bytes = cli::status_json(st, config, ledger).size();
        auto t1 = Clock::now();
        const double c1 = thread_cpu_ms();
        const std::size_t other = nlohmann_status_json(st, config, ledger).size();
        auto t2 = Clock::now();
        const double c2 = thread_cpu_ms();
        if (other != bytes) throw std::runtime_error("the two writers disagree in size");
        streaming.push_back(micros_between(t0, t1) / 1000.0);
        tree.push_back(micros_between(t1, t2) / 1000.0);
        streaming_cpu.push_back(c1 - c0);
        tree_cpu.push_back(c2 - c1);
    }
    fmt::print(
        "b8: {} bytes; streaming writer {:.1f} ms (median; CPU {:.1f} ms), nlohmann-json "
        "tree + dump {:.1f} ms (CPU {:.1f} ms): {:.1f} x\n",
        bytes, median(streaming), median(streaming_cpu), median(tree), median(tree_cpu),
        median(tree) / median(streaming));
    result("b8.streaming_ms", median(streaming));
    result("b8.nlohmann_ms", median(tree));
    result("b8.streaming_cpu_ms", median(streaming_cpu));
    result("b8.nlohmann_cpu_ms", median(tree_cpu));
    result("b8.nlohmann_over_streaming", median(tree) / median(streaming));
}

}  // namespace gpuslots::bench
