#include "gpuslots/status.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace gpuslots {

std::vector<std::string> check_invariants(const Fleet& fleet,
                                          const std::vector<Reservation>& reservations) {
    // One pass, one hash lookup per reservation, a holder table per server: linear in the
    // number of reservations (status runs this at 10,000 servers).
    struct Books {
        long long cpus = 0;
        std::vector<const Reservation*> holder;
    };
    std::vector<std::string> problems;
    std::unordered_map<std::string_view, Books> books;
    std::vector<std::string_view> servers;  // first-seen order, so the report is stable
    books.reserve(fleet.size());
    for (const auto& r : reservations) {
        if (static_cast<int>(r.gpus.size()) != r.gpu_count) {
            problems.push_back(fmt::format(
                "{} task '{}' on {} reserved {} GPUs but holds {} indices", origin_name(r.origin),
                r.task_id, r.server, r.gpu_count, r.gpus.size()));
        }
        auto [it, added] = books.try_emplace(r.server);
        if (added) servers.push_back(r.server);
        Books& b = it->second;
        for (int g : r.gpus) {
            if (g < 0) continue;
            const auto index = static_cast<std::size_t>(g);
            if (index >= b.holder.size()) b.holder.resize(index + 1, nullptr);
            if (b.holder[index] != nullptr) {
                problems.push_back(fmt::format("GPU {} of {} is held by both '{}' and '{}'", g,
                                               r.server, b.holder[index]->task_id, r.task_id));
            } else {
                b.holder[index] = &r;
            }
        }
        b.cpus += r.cpus;
    }
    for (std::string_view server : servers) {
        const Books& b = books.at(server);
        const Server* s = fleet.server(server);
        if (s == nullptr) continue;
        for (std::size_t g = static_cast<std::size_t>(s->gpus); g < b.holder.size(); ++g) {
            if (b.holder[g] != nullptr) {
                problems.push_back(fmt::format(
                    "task '{}' holds GPU {} of {}, which now has only {} GPUs in the config",
                    b.holder[g]->task_id, g, server, s->gpus));
            }
        }
        if (b.cpus > s->cpus) {
            problems.push_back(fmt::format("{} has {} CPUs reserved but only {} in the config",
                                           server, b.cpus, s->cpus));
        }
    }
    return problems;
}

namespace {

Totals totals_of(const std::vector<ServerStatus>& servers) {
    Totals t;
    for (const auto& s : servers) {
        t.tasks += static_cast<long long>(s.tasks.size());
        if (!s.known) {
            ++t.unknown_servers;
            continue;
        }
        t.gpus_total += s.gpus_total;
        t.gpus_free += s.gpus_free;
        t.cpus_total += s.cpus_total;
        t.cpus_free += s.cpus_free;
    }
    return t;
}

}  // namespace

FleetStatus summarize(const Fleet& fleet, std::vector<Reservation> reservations,
                      const Authority& authority) {
    FleetStatus status;
    status.problems = check_invariants(fleet, reservations);
    status.authority = authority;
    status.servers.reserve(fleet.size());
    for (const auto& s : fleet.servers()) {
        status.servers.push_back(
            ServerStatus{s.name, s.gpus, s.gpus, s.cpus, s.cpus, {}, authority.covers(s)});
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
        s.gpus_free = s.known ? std::max(0, s.gpus_free) : 0;
        s.cpus_free = s.known ? std::max(0, s.cpus_free) : 0;
        std::stable_sort(s.tasks.begin(), s.tasks.end(), [](const auto& a, const auto& b) {
            return a.created_unix < b.created_unix;
        });
    }
    status.totals = totals_of(status.servers);
    for (auto& [name, s] : removed) {
        s.gpus_free = 0;
        s.cpus_free = 0;
        status.removed.push_back(std::move(s));
    }
    return status;
}

FleetStatus select(FleetStatus status, const StatusFilter& filter) {
    const auto keep = [&filter](ServerStatus& s) {
        if (filter.server && s.name != *filter.server) return false;
        if (!filter.task) return true;
        // Named members, not a structured binding: clang 14 (the sanitizer build) cannot
        // capture a binding in a lambda.
        const Origin origin = filter.task->first;
        const std::string& id = filter.task->second;
        auto& t = s.tasks;
        t.erase(std::remove_if(
                    t.begin(), t.end(),
                    [&](const Reservation& r) { return r.origin != origin || r.task_id != id; }),
                t.end());
        return !t.empty();
    };
    const auto filter_list = [&keep](std::vector<ServerStatus>& list) {
        std::vector<ServerStatus> kept;
        for (auto& s : list) {
            if (keep(s)) kept.push_back(std::move(s));
        }
        list = std::move(kept);
    };
    filter_list(status.servers);
    filter_list(status.removed);
    status.totals = totals_of(status.servers);
    return status;
}

namespace {

void append_2digits(std::string& out, int v) {
    out += static_cast<char>('0' + v / 10 % 10);
    out += static_cast<char>('0' + v % 10);
}

}  // namespace

void append_decimal(std::string& out, std::int64_t v) {
    char buf[24];
    const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
    out.append(buf, end);
}

// Days since 1970-01-01 to a proleptic Gregorian date by the usual 400-year-era arithmetic.
void append_utc_iso8601(std::string& out, std::int64_t unix_seconds) {
    std::int64_t days = unix_seconds / 86400;
    std::int64_t secs = unix_seconds % 86400;
    if (secs < 0) {
        secs += 86400;
        days -= 1;
    }
    const std::int64_t z = days + 719468;  // days since 0000-03-01
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const std::int64_t doe = z - era * 146097;                                       // [0, 146096]
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
    const std::int64_t mp = (5 * doy + 2) / 153;                                     // [0, 11]
    const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    append_decimal(out, year);
    out += '-';
    append_2digits(out, month);
    out += '-';
    append_2digits(out, day);
    out += 'T';
    append_2digits(out, static_cast<int>(secs / 3600));
    out += ':';
    append_2digits(out, static_cast<int>(secs / 60 % 60));
    out += ':';
    append_2digits(out, static_cast<int>(secs % 60));
    out += 'Z';
}

}  // namespace gpuslots
