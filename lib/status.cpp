#include "gpuslots/status.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace gpuslots {

std::vector<std::string> check_invariants(const Fleet& fleet,
                                          const std::vector<Reservation>& reservations) {
    std::vector<std::string> problems;
    std::map<std::pair<std::string, int>, const Reservation*> holders;
    std::map<std::string, long long> cpus_used;
    std::map<std::string, long long> gpus_used;
    for (const auto& r : reservations) {
        if (static_cast<int>(r.gpus.size()) != r.gpu_count) {
            problems.push_back(fmt::format(
                "{} task '{}' on {} reserved {} GPUs but holds {} indices", origin_name(r.origin),
                r.task_id, r.server, r.gpu_count, r.gpus.size()));
        }
        for (int g : r.gpus) {
            auto [it, inserted] = holders.emplace(std::make_pair(r.server, g), &r);
            if (!inserted) {
                problems.push_back(fmt::format("GPU {} of {} is held by both '{}' and '{}'", g,
                                               r.server, it->second->task_id, r.task_id));
            }
        }
        cpus_used[r.server] += r.cpus;
        gpus_used[r.server] += static_cast<long long>(r.gpus.size());
        if (const Server* s = fleet.server(r.server)) {
            for (int g : r.gpus) {
                if (g >= s->gpus) {
                    problems.push_back(fmt::format(
                        "task '{}' holds GPU {} of {}, which now has only {} GPUs in the config",
                        r.task_id, g, r.server, s->gpus));
                }
            }
        }
    }
    for (const auto& [server, used] : cpus_used) {
        if (const Server* s = fleet.server(server); s != nullptr && used > s->cpus) {
            problems.push_back(fmt::format("{} has {} CPUs reserved but only {} in the config",
                                           server, used, s->cpus));
        }
    }
    return problems;
}

FleetStatus summarize(const Fleet& fleet, std::vector<Reservation> reservations) {
    FleetStatus status;
    status.problems = check_invariants(fleet, reservations);
    status.servers.reserve(fleet.size());
    for (const auto& s : fleet.servers()) {
        status.servers.push_back(ServerStatus{s.name, s.gpus, s.gpus, s.cpus, s.cpus, {}});
    }
    std::map<std::string, ServerStatus> removed;
    for (auto& r : reservations) {
        ServerStatus* target = nullptr;
        if (auto i = fleet.find(r.server)) {
            target = &status.servers[*i];
        } else {
            target = &removed[r.server];
            target->name = r.server;
        }
        target->gpus_free -= static_cast<int>(r.gpus.size());
        target->cpus_free -= r.cpus;
        target->tasks.push_back(std::move(r));
    }
    for (auto& s : status.servers) {
        s.gpus_free = std::max(0, s.gpus_free);
        s.cpus_free = std::max(0, s.cpus_free);
        std::stable_sort(s.tasks.begin(), s.tasks.end(), [](const auto& a, const auto& b) {
            return a.created_unix < b.created_unix;
        });
        status.totals.gpus_total += s.gpus_total;
        status.totals.gpus_free += s.gpus_free;
        status.totals.cpus_total += s.cpus_total;
        status.totals.cpus_free += s.cpus_free;
        status.totals.tasks += static_cast<long long>(s.tasks.size());
    }
    for (auto& [name, s] : removed) {
        s.gpus_free = 0;
        s.cpus_free = 0;
        status.removed.push_back(std::move(s));
    }
    return status;
}

}  // namespace gpuslots
