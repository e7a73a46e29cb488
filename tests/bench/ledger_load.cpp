#include "ledger_load.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "bench_common.hpp"
#include "gpuslots/config.hpp"
#include "gpuslots/ledger.hpp"

namespace gpuslots::bench {
namespace {

// What a worker reports back, in a file; latencies follow as raw doubles.
struct WorkerSummary {
    long operations = 0;
    long failures = 0;
    double cpu_seconds = 0;
    std::int64_t end_ns = 0;
    char first_failure[256] = {};
};

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
}

Config parse_or_throw(const LoadSpec& spec) {
    auto config = parse_config(spec.config_yaml, spec.dir + "/bench.yaml");
    if (!config) throw std::runtime_error("bench config: " + config.error().message);
    return std::move(*config);
}

double own_cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

[[noreturn]] void worker(const LoadSpec& spec, int index, int ready_fd, int go_fd,
                         const std::string& out_path) {
    WorkerSummary summary;
    std::vector<double> latencies;
    try {
        set_busy_policy(spec.busy);
        const Config config = parse_or_throw(spec);
        auto ledger = open_ledger(config, Ledger::Access::read_write);
        if (!ledger) throw std::runtime_error(ledger.error().message);
        const std::string& server = spec.servers[index % spec.servers.size()];
        latencies.reserve(200'000);
        const char ready = 'r';
        if (::write(ready_fd, &ready, 1) != 1) ::_exit(3);
        std::int64_t deadline_ns = 0;
        if (::read(go_fd, &deadline_ns, sizeof deadline_ns) != sizeof deadline_ns) ::_exit(3);
        const double cpu_before = own_cpu_seconds();
        Request request;
        request.origin = Origin::slurm;
        request.gpus = spec.gpus;
        request.cpus = spec.cpus;
        for (long k = 0; now_ns() < deadline_ns; ++k) {
            request.task_id = std::to_string(static_cast<long>(index + 1) * 100'000'000L + k);
            auto t0 = Clock::now();
            bool reserved = false;
            {
                auto r = ledger->get()->reserve(server, request);
                reserved = r.ok();
                if (!r.ok() && summary.failures++ == 0) {
                    std::snprintf(summary.first_failure, sizeof summary.first_failure, "%s",
                                  r.error().message.c_str());
                }
            }
            auto t1 = Clock::now();
            latencies.push_back(micros_between(t0, t1));
            if (!reserved) continue;
            ++summary.operations;
            {
                auto r = ledger->get()->release(Origin::slurm, request.task_id, server);
                if (!r.ok() && summary.failures++ == 0) {
                    std::snprintf(summary.first_failure, sizeof summary.first_failure, "%s",
                                  r.error().message.c_str());
                }
                if (r.ok()) ++summary.operations;
            }
            latencies.push_back(micros_between(t1, Clock::now()));
        }
        summary.end_ns = now_ns();
        summary.cpu_seconds = own_cpu_seconds() - cpu_before;
        if (spec.sqlite_busy_handler && !busy_swap_seen()) throw std::runtime_error("the busy-handler swap was not linked in");
    } catch (const std::exception& e) {
        summary.failures = -1;
        std::snprintf(summary.first_failure, sizeof summary.first_failure, "%s", e.what());
    }
    std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(&summary), sizeof summary);
    out.write(reinterpret_cast<const char*>(latencies.data()),
              static_cast<std::streamsize>(latencies.size() * sizeof(double)));
    out.close();
    ::_exit(out ? 0 : 2);
}

}  // namespace

LoadResult run_load(const LoadSpec& spec) {
    if (spec.servers.empty() || spec.processes < 1) throw std::invalid_argument("empty load spec");
    {
        // Create the ledger up front, so that no worker's clock includes creating it.
        const Config config = parse_or_throw(spec);
        auto ledger = open_ledger(config, Ledger::Access::read_write);
        if (!ledger) throw std::runtime_error(ledger.error().message);
    }
    int ready[2];
    int go[2];
    if (::pipe(ready) != 0 || ::pipe(go) != 0) throw std::runtime_error("pipe failed");
    std::vector<pid_t> pids;
    std::vector<std::string> outs;
    std::fflush(nullptr);
    for (int i = 0; i < spec.processes; ++i) {
        outs.push_back(fmt::format("{}/worker-{}.out", spec.dir, i));
        const pid_t pid = ::fork();
        if (pid < 0) throw std::runtime_error("fork failed");
        if (pid == 0) {
            ::close(ready[0]);
            ::close(go[1]);
            worker(spec, i, ready[1], go[0], outs.back());
        }
        pids.push_back(pid);
    }
    ::close(ready[1]);
    ::close(go[0]);
    for (int i = 0; i < spec.processes; ++i) {
        char c = 0;
        if (::read(ready[0], &c, 1) != 1) break;  // a worker died; its file says why
    }
    const std::int64_t start_ns = now_ns();
    const std::int64_t deadline_ns = start_ns + static_cast<std::int64_t>(spec.seconds * 1e9);
    for (int i = 0; i < spec.processes; ++i) {
        if (::write(go[1], &deadline_ns, sizeof deadline_ns) != sizeof deadline_ns) break;
    }
    ::close(go[1]);
    ::close(ready[0]);
    for (pid_t pid : pids) {
        int status = 0;
        ::waitpid(pid, &status, 0);
    }

    LoadResult result;
    std::int64_t end_ns = start_ns;
    for (const auto& path : outs) {
        std::ifstream in(path, std::ios::binary);
        WorkerSummary s;
        if (!in.read(reinterpret_cast<char*>(&s), sizeof s)) {
            throw std::runtime_error("a worker died without a report (" + path + ")");
        }
        if (s.failures < 0) throw std::runtime_error(std::string("worker: ") + s.first_failure);
        double v = 0;
        while (in.read(reinterpret_cast<char*>(&v), sizeof v))
            result.latency_us.push_back(v);
        result.operations += s.operations;
        result.worker_ops.push_back(s.operations);
        if (s.failures > 0 && result.failures == 0) result.first_failure = s.first_failure;
        result.failures += s.failures;
        end_ns = std::max(end_ns, s.end_ns);
        result.cpu_seconds += s.cpu_seconds;
        ::unlink(path.c_str());
    }
    result.wall_seconds = static_cast<double>(end_ns - start_ns) / 1e9;
    return result;
}

void short_lived_history(Config config, const std::string& server, int operations) {
    config.state.sqlite.durability = Durability::normal;
    Request request;
    request.origin = Origin::slurm;
    request.gpus = 1;
    for (int k = 0; k < operations; ++k) {
        auto ledger = open_ledger(config, Ledger::Access::read_write);
        if (!ledger) throw std::runtime_error(ledger.error().message);
        request.task_id = std::to_string(700'000'000 + k / 2);
        if (k % 2 == 0) {
            if (auto r = (*ledger)->reserve(server, request); !r) {
                throw std::runtime_error("history: " + r.error().message);
            }
        } else if (auto r = (*ledger)->release(Origin::slurm, request.task_id, server); !r) {
            throw std::runtime_error("history: " + r.error().message);
        }
    }
}

void LoadResult::add(const LoadResult& slice) {
    operations += slice.operations;
    if (failures == 0 && slice.failures > 0) first_failure = slice.first_failure;
    failures += slice.failures;
    wall_seconds += slice.wall_seconds;
    cpu_seconds += slice.cpu_seconds;
    if (worker_ops.size() < slice.worker_ops.size()) worker_ops.resize(slice.worker_ops.size());
    for (std::size_t i = 0; i < slice.worker_ops.size(); ++i)
        worker_ops[i] += slice.worker_ops[i];
    latency_us.insert(latency_us.end(), slice.latency_us.begin(), slice.latency_us.end());
}

}  // namespace gpuslots::bench
