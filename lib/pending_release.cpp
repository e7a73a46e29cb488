#include "gpuslots/pending_release.hpp"

#include <ctime>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "gpuslots/ledger.hpp"
#include "gpuslots/storage.hpp"

namespace gpuslots {
namespace {

std::string local_time(std::int64_t when) {
    const auto t = static_cast<std::time_t>(when);
    std::tm tm{};
    ::localtime_r(&t, &tm);
    char buf[32] = {};
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

std::string what(const Reservation& r) {
    return fmt::format("GPUs [{}] and {} CPUs", fmt::join(r.gpus, ","), r.cpus);
}

// The ledger of one or more entries, opened once per run.
struct OpenLedger {
    std::unique_ptr<Config> config;  // outlives the ledger
    std::unique_ptr<Ledger> ledger;  // null: could not be opened (`error`)
    std::optional<Error> error;
};

}  // namespace

bool ledger_outage(const Error& error) {
    return error.code == Errc::unreachable || error.code == Errc::config;
}

bool pending_matches(const PendingRelease& p, const Reservation& now) {
    if (now.origin != Origin::slurm || now.task_id != p.record.job_id ||
        now.server != p.record.node) {
        return false;
    }
    if (const auto& held = p.record.held) {
        return now.created_unix == held->created_unix && now.gpus == held->gpus &&
               now.gpu_count == held->gpu_count && now.cpus == held->cpus;
    }
    return now.created_unix <= p.since_unix;
}

PendingOutcome apply_pending_releases(const RecordDir& records,
                                      const std::optional<std::string>& node) {
    PendingOutcome out;
    std::vector<std::string> unreadable;
    std::map<std::string, OpenLedger> ledgers;  // by backend and location
    for (const PendingRelease& p : records.pending(node, &unreadable)) {
        const std::string& job = p.record.job_id;
        const std::string& on = p.record.node;
        const std::string head =
            fmt::format("job {}'s release on {}, kept since {}", job, on, local_time(p.since_unix));
        const auto keep = [&](const Error& e) {
            out.kept.push_back(fmt::format("{}: still pending: {}", head, e.message));
            out.kept_jobs.push_back(job);
        };
        OpenLedger& open = ledgers[p.record.state.backend + " " + ledger_location(p.record.state)];
        if (!open.config) {
            open.config = std::make_unique<Config>(config_of(p.record));
            auto ledger = open_ledger(*open.config, Ledger::Access::read_write);
            if (ledger) {
                open.ledger = std::move(*ledger);
            } else {
                open.error = ledger.error();
            }
        }
        if (!open.ledger) {
            keep(*open.error);
            continue;
        }
        auto found = open.ledger->find(Origin::slurm, job, on);
        if (!found) {
            // The database went away again: the rest of this ledger's entries wait too.
            if (ledger_outage(found.error())) {
                open.ledger.reset();
                open.error = found.error();
            }
            keep(found.error());
            continue;
        }
        std::string line;
        if (!found->has_value()) {
            line = fmt::format("{}: nothing to release (released meanwhile)", head);
        } else if (!pending_matches(p, **found)) {
            line = fmt::format(
                "{}: left the reservation of job {} there alone ({}, made {}): it is not the one "
                "the release was kept for, but a later job's with the same id",
                head, job, what(**found), local_time((*found)->created_unix));
        } else {
            auto released = open.ledger->release_if_unchanged(**found);
            if (!released) {
                if (ledger_outage(released.error())) {
                    open.ledger.reset();
                    open.error = released.error();
                }
                keep(released.error());
                continue;
            }
            line = released->has_value()
                       ? fmt::format("{}: released {}", head, what(**released))
                       : fmt::format("{}: nothing to release (changed meanwhile)", head);
        }
        // Applied (or nothing left to apply): the entry goes, unless another hook applied it
        // meanwhile and a later job of that id kept a release of its own under the same name
        // (a long run over many entries): that one stays for its own turn. Should the removal
        // fail, the next run finds nothing to release and tries again.
        bool same_entry = false;
        for (const PendingRelease& now : records.pending(on)) {
            if (now.record.job_id == job) {
                same_entry = now.since_unix == p.since_unix && now.why == p.why;
            }
        }
        if (!same_entry) {
            // Nothing to remove: gone already, or a later job's entry.
        } else if (auto removed = records.remove_pending(on, job); !removed) {
            line += "; " + removed.error().message;
        }
        out.applied.push_back(std::move(line));
    }
    out.kept.insert(out.kept.end(), unreadable.begin(), unreadable.end());
    return out;
}

}  // namespace gpuslots
