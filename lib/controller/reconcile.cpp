#include "gpuslots/reconcile.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include "gpuslots/hostlist.hpp"
#include "gpuslots/status.hpp"

namespace gpuslots {
namespace {

// States in which a job still holds its nodes (`scontrol show job` prints a state flag such
// as CONFIGURING in place of the base state RUNNING). A state not named here and not
// COMPLETING is "ended" or "pending": the job holds nothing on any node.
bool holds_nodes(std::string_view state) {
    static constexpr std::array<std::string_view, 8> kHolding = {
        "RUNNING",   "SUSPENDED", "CONFIGURING", "RESIZING",
        "SIGNALING", "STOPPED",   "STAGE_OUT",   "POWER_UP_NODE"};
    return std::find(kHolding.begin(), kHolding.end(), state) != kHolding.end();
}

// The epilog is still to run on the job's nodes (REQUEUED: requeued while completing).
bool completing(std::string_view state) {
    return state == "COMPLETING" || state == "REQUEUED";
}

bool pending(std::string_view state) {
    return state == "PENDING" || state == "REQUEUE_HOLD" || state == "REQUEUE_FED" ||
           state == "SPECIAL_EXIT" || state == "RESV_DEL_HOLD";
}

bool has_node(const JobView::Record& record, const std::string& node) {
    return std::find(record.nodes.begin(), record.nodes.end(), node) != record.nodes.end();
}

std::string age_text(std::int64_t seconds) {
    if (seconds < 120) return fmt::format("{} s", seconds);
    if (seconds < 7200) return fmt::format("{} min", seconds / 60);
    return fmt::format("{} h", seconds / 3600);
}

// A Slurm job's reservation against slurmctld's records of that job.
void judge_job(Judgement& j, const std::vector<JobView::Record>* records,
               const ReconcileRules& rules) {
    const Reservation& r = j.reservation;
    const std::int64_t age = rules.now_unix - r.created_unix;
    const auto keep = [&](Reason reason, std::string why) {
        j.verdict = Verdict::keep;
        j.reason = reason;
        j.why = std::move(why);
    };
    if (records == nullptr) {
        j.job_state = "UNKNOWN";
    } else {
        // The most telling record wins: holding here, then completing here, then the rest.
        const JobView::Record* best = &records->front();
        for (const auto& record : *records) {
            if (!record.nodes_readable) {
                return keep(
                    Reason::unreadable,
                    fmt::format("slurmctld's node list of job {} cannot be read; kept", r.task_id));
            }
            if (holds_nodes(record.state) && has_node(record, r.server)) {
                j.job_state = record.state;
                return keep(Reason::running,
                            fmt::format("job {} is {} on {}", r.task_id, record.state, r.server));
            }
            if (completing(record.state) && has_node(record, r.server)) best = &record;
        }
        j.job_state = best->state;
        if (completing(best->state) && has_node(*best, r.server)) {
            return keep(Reason::completing,
                        fmt::format("job {} is {} on {}: its epilog releases it", r.task_id,
                                    best->state, r.server));
        }
    }
    if (age < rules.grace.count()) {
        return keep(Reason::young,
                    fmt::format("job {} is {}, but its reservation is {} old, within the grace "
                                "period of {} s; kept for now",
                                r.task_id, j.job_state, age_text(std::max<std::int64_t>(age, 0)),
                                rules.grace.count()));
    }
    j.verdict = Verdict::release;
    if (records == nullptr) {
        j.reason = Reason::unknown;
        j.why = fmt::format(
            "slurmctld does not know job {} (ended more than MinJobAge ago, or "
            "never there)",
            r.task_id);
        return;
    }
    const JobView::Record& record = records->front();
    std::vector<std::string> running_on;
    for (const auto& rec : *records) {
        if (holds_nodes(rec.state)) {
            running_on.insert(running_on.end(), rec.nodes.begin(), rec.nodes.end());
        }
    }
    if (!running_on.empty()) {
        j.reason = Reason::elsewhere;
        j.job_state = "RUNNING";
        j.why = fmt::format("job {} runs on {}, not on {}", r.task_id,
                            compress_hostlist(running_on), r.server);
    } else if (pending(j.job_state)) {
        j.reason = Reason::pending;
        j.why = fmt::format("job {} is {} (requeued), not running on {}", r.task_id, j.job_state,
                            r.server);
    } else {
        j.reason = Reason::ended;
        j.why = completing(j.job_state) ? fmt::format("job {} is {} on other nodes, not on {}",
                                                      r.task_id, record.state, r.server)
                                        : fmt::format("job {} is {}", r.task_id, j.job_state);
    }
}

}  // namespace

JobView::JobView(const std::vector<SlurmJobInfo>& jobs) {
    for (const auto& job : jobs) {
        Record record;
        record.state = job.state;
        if (!job.nodes.empty()) {
            auto names = expand_hostlist(job.nodes);
            if (names) {
                record.nodes = std::move(*names);
            } else {
                record.nodes_readable = false;
            }
        }
        jobs_[job.id].push_back(std::move(record));
    }
}

const std::vector<JobView::Record>* JobView::find(const std::string& job_id) const {
    auto it = jobs_.find(job_id);
    return it == jobs_.end() ? nullptr : &it->second;
}

Result<std::vector<SlurmJobInfo>> ask_jobs(const SlurmController& slurm, bool root) {
    if (!root) {
        auto settings = slurm.settings();
        if (!settings) return settings.error();
        const auto& hidden = settings->private_data;
        if (std::find(hidden.begin(), hidden.end(), "jobs") != hidden.end()) {
            return make_error(Errc::config,
                              "slurmctld hides other users' jobs from this user "
                              "(PrivateData=jobs); run as root to compare them with the ledger");
        }
    }
    return slurm.jobs();
}

const char* reason_name(Reason reason) {
    switch (reason) {
        case Reason::running:
            return "running";
        case Reason::completing:
            return "completing";
        case Reason::young:
            return "young";
        case Reason::unreadable:
            return "unreadable";
        case Reason::ended:
            return "ended";
        case Reason::pending:
            return "pending";
        case Reason::elsewhere:
            return "elsewhere";
        case Reason::unknown:
            return "unknown";
        case Reason::manual:
            return "manual";
        case Reason::manual_old:
            return "manual_old";
        case Reason::expired:
            return "expired";
    }
    return "unknown";
}

std::vector<Judgement> judge(const std::vector<Reservation>& reservations, const JobView& jobs,
                             const ReconcileRules& rules) {
    std::vector<Judgement> out;
    out.reserve(reservations.size());
    for (const auto& r : reservations) {
        Judgement j;
        j.reservation = r;
        if (r.origin == Origin::slurm) {
            judge_job(j, jobs.find(r.task_id), rules);
        } else {
            const std::int64_t age = rules.now_unix - r.created_unix;
            if (r.expires_unix && *r.expires_unix <= rules.now_unix) {
                j.verdict = Verdict::release;
                j.reason = Reason::expired;
                std::string at;
                append_utc_iso8601(at, *r.expires_unix);
                j.why = fmt::format(
                    "manual task '{}' expired at {}, {} after it was made", r.task_id, at,
                    age_text(std::max<std::int64_t>(*r.expires_unix - r.created_unix, 0)));
            } else if (age >= rules.manual_old.count()) {
                j.verdict = Verdict::report;
                j.reason = Reason::manual_old;
                j.why = fmt::format(
                    "manual task '{}' on {} has been held for {}; release it "
                    "with 'gpuslots release {}' when it is no longer used",
                    r.task_id, r.server, age_text(age), r.task_id);
            } else {
                j.reason = Reason::manual;
                j.why = fmt::format("manual task '{}': not reconcile's to release", r.task_id);
            }
        }
        out.push_back(std::move(j));
    }
    return out;
}

}  // namespace gpuslots
