#include "gpuslots/holders.hpp"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "gpuslots/error.hpp"

namespace gpuslots {
namespace {

constexpr std::size_t kTaskIdChars = 40;  // a manual task id is cut to this in the message

std::string who(const Reservation& r) {
    // A Slurm job id is Slurm's number; a task id is whatever someone typed.
    return r.origin == Origin::slurm ? fmt::format("job {}", r.task_id)
                                     : fmt::format("task {}", in_quotes(r.task_id, kTaskIdChars));
}

// Local time, as slurmd's own log lines and `date` show it: "12:01" today, else with the date.
std::string clock_text(std::int64_t when, std::int64_t now) {
    const auto t = static_cast<std::time_t>(when);
    const auto n = static_cast<std::time_t>(now);
    std::tm at{};
    std::tm today{};
    ::localtime_r(&t, &at);
    ::localtime_r(&n, &today);
    char buf[32] = {};
    const bool same_day = at.tm_year == today.tm_year && at.tm_yday == today.tm_yday;
    std::strftime(buf, sizeof buf, same_day ? "%H:%M" : "%Y-%m-%d %H:%M", &at);
    return buf;
}

std::string holder(const Reservation& r, std::int64_t now) {
    std::string what = fmt::format("{} (since {}", who(r), clock_text(r.created_unix, now));
    if (!r.gpus.empty()) what += fmt::format(", GPUs {}", fmt::join(r.gpus, ","));
    if (r.cpus > 0) what += fmt::format(", {} CPU{}", r.cpus, r.cpus == 1 ? "" : "s");
    return what + ")";
}

}  // namespace

std::optional<std::string> looks_dead(const Reservation& r, const HolderContext& context) {
    if (r.origin == Origin::slurm && context.server_boot_id && !context.server_boot_id->empty() &&
        !r.boot_id.empty() && r.boot_id != *context.server_boot_id) {
        return std::string("reserved before this node's boot");
    }
    if (r.expires_unix && *r.expires_unix <= context.now_unix) {
        return fmt::format("expired at {}", clock_text(*r.expires_unix, context.now_unix));
    }
    return std::nullopt;
}

std::string holders_text(std::string_view server, std::vector<Reservation> holders,
                         const HolderContext& context) {
    if (holders.empty()) return "";
    std::stable_sort(
        holders.begin(), holders.end(),
        [](const Reservation& a, const Reservation& b) { return a.created_unix < b.created_unix; });
    std::string out = "held by ";
    for (std::size_t i = 0; i < holders.size() && i < kHoldersNamed; ++i) {
        if (i > 0) out += ", ";
        out += holder(holders[i], context.now_unix);
    }
    if (holders.size() > kHoldersNamed) {
        out += fmt::format(" and {} more (see 'gpuslots status')", holders.size() - kHoldersNamed);
    }
    std::size_t dead = 0;
    std::string first;
    for (const auto& r : holders) {
        auto why = looks_dead(r, context);
        if (!why) continue;
        if (dead++ == 0) first = fmt::format("{} looks dead ({})", who(r), *why);
    }
    if (dead > 0) {
        out +=
            fmt::format("; {}{}: run 'gpuslots reconcile --server {}'", first,
                        dead > 1 ? fmt::format(", and {} more", dead - 1) : std::string(), server);
    }
    return out;
}

}  // namespace gpuslots
