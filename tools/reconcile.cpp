// gpuslots reconcile [--dry-run] [--grace SECONDS] [--server NAME] [--old SECONDS] [--json]:
// release the reservations of Slurm jobs that no longer run where the ledger says (an epilog
// that never ran: a node crash, a slurmd that died, a power loss), after asking slurmctld.
// The rules are lib/controller/reconcile.cpp's; this file gathers, acts and prints.
//
// Made to run unattended from a timer, on the controller or on every node at once:
//   - The ledger is read first and slurmctld asked after (see gpuslots/reconcile.hpp for why
//     that order), and each release is conditional on the reservation being the one judged
//     (Ledger::release_if_unchanged), so two runs at once, or a run beside prologs and
//     epilogs, never release what they did not judge.
//   - When slurmctld cannot be asked (down, not answering within --timeout, hiding jobs),
//     nothing is released: exit 4. A ledger with no Slurm job in it needs no slurmctld at all.
//   - Manual reservations are released only once expired (allocate --for, manual.expire_after),
//     with their holder jobs on servers Slurm schedules; otherwise only reported when old.
//
// Slurm is asked with `scontrol -o show job` (SlurmController::jobs) rather than
// `squeue --json`: in 22.05 the JSON form needs the openapi and serializer plugins on every
// host that runs it and its schema (data_parser v0.0.38) is renamed in each release, while
// scontrol's one-line records are the form gpuslots already parses and tests, and list the
// jobs slurmctld still remembers in every state (COMPLETED, NODE_FAIL, ...) for MinJobAge.
#include <unistd.h>

#include <ctime>

#include "cli.hpp"
#include "gpuslots/hostlist.hpp"
#include "gpuslots/pending_release.hpp"
#include "gpuslots/reconcile.hpp"
#include "gpuslots/request.hpp"
#include "gpuslots/slurm_controller.hpp"
#include "gpuslots/status.hpp"
#include "json_writer.hpp"
#include "text.hpp"

namespace gpuslots::cli {
namespace {

struct ReconcileOptions {
    bool dry_run = false;
    bool json = false;
    std::string grace = "300";
    std::string old = "86400";
    std::string timeout = "30";
    std::string server;
    std::string record_dir = kDefaultRecordDir;
};

// What was done with one judgement.
enum class Action { none, released, would_release, changed, kept, reported };

const char* action_name(Action a) {
    switch (a) {
        case Action::none:
            return "none";
        case Action::released:
            return "released";
        case Action::would_release:
            return "would_release";
        case Action::changed:
            return "changed";
        case Action::kept:
            return "kept";
        case Action::reported:
            return "reported";
    }
    return "none";
}

struct Outcome {
    Judgement judgement;
    Action action = Action::none;
    std::vector<std::string> holders;  // holder jobs cancelled with a released booking
};

bool scheduled(const Config& config, const std::string& server) {
    const Server* s = config.fleet.server(server);
    return s != nullptr && s->slurm != SlurmMode::none;
}

// A released manual booking's holder jobs (see allocate.cpp), cancelled. Returns the error
// when they could not be, naming the command that does it by hand.
std::optional<Error> cancel_holders(const SlurmController& slurm,
                                    const std::vector<SlurmJobInfo>& jobs, Outcome& outcome) {
    const std::string& task = outcome.judgement.reservation.task_id;
    for (const auto& job : jobs) {
        if (is_holder_of(job, task)) outcome.holders.push_back(job.id);
    }
    if (auto cancelled = slurm.cancel(outcome.holders); !cancelled) {
        return make_error(Errc::config,
                          "released {} in the ledger, but its holder job(s) {} are still there: "
                          "{}; cancel them with 'scancel {}'",
                          task, fmt::join(outcome.holders, " "), cancelled.error().message,
                          fmt::join(outcome.holders, " "));
    }
    return std::nullopt;
}

std::string holder_label(const Reservation& r) {
    return r.origin == Origin::slurm ? "job " + r.task_id : "task '" + r.task_id + "'";
}

std::string since(std::int64_t unix_seconds) {
    std::string out;
    append_utc_iso8601(out, unix_seconds);
    return out;
}

void print_line(const Outcome& o) {
    const Reservation& r = o.judgement.reservation;
    const std::string label = holder_label(r);
    const std::string gpus = gpu_list(r.gpus);
    const std::string at = since(r.created_unix);
    const std::string& why = o.judgement.why;
    switch (o.action) {
        case Action::released:
            if (!o.holders.empty()) {
                say("released {} on {} (GPUs {} and {} CPUs, since {}): {}; cancelled holder job "
                    "{}\n",
                    label, r.server, gpus, r.cpus, at, why, fmt::join(o.holders, " "));
                return;
            }
            say("released {} on {} (GPUs {} and {} CPUs, since {}): {}\n", label, r.server, gpus,
                r.cpus, at, why);
            return;
        case Action::would_release:
            say("would release {} on {} (GPUs {} and {} CPUs, since {}): {}\n", label, r.server,
                gpus, r.cpus, at, why);
            return;
        case Action::changed:
            say("left {} on {} (GPUs {} and {} CPUs, since {}): it changed in the ledger since it "
                "was judged (made again)\n",
                label, r.server, gpus, r.cpus, at);
            return;
        case Action::kept:
            say("kept {} on {} (GPUs {} and {} CPUs, since {}): {}\n", label, r.server, gpus,
                r.cpus, at, why);
            return;
        case Action::reported:
            say("old {} on {} (GPUs {} and {} CPUs, since {}): {}\n", label, r.server, gpus, r.cpus,
                at, why);
            return;
        case Action::none:
            return;  // held by a running job, or a young manual task: nothing to say
    }
}

void print_json(const std::vector<Outcome>& outcomes, const ReconcileOptions& o,
                const ReconcileRules& rules, bool slurm_asked, int released) {
    std::string out;
    JsonWriter w(out);
    w.begin_object()
        .field("dry_run", o.dry_run)
        .field("grace_seconds", static_cast<std::int64_t>(rules.grace.count()))
        .field("slurm_asked", slurm_asked);
    w.key("reservations").begin_array();
    for (const auto& outcome : outcomes) {
        const Judgement& j = outcome.judgement;
        const Reservation& r = j.reservation;
        w.begin_object()
            .field("id", r.task_id)
            .field("origin", origin_name(r.origin))
            .field("server", r.server)
            .array("gpus", r.gpus)
            .field("cpus", r.cpus)
            .field("since", since(r.created_unix))
            .field("action", action_name(outcome.action))
            .field("reason", reason_name(j.reason))
            .field("job_state", j.job_state)
            .field("why", j.why);
        if (!outcome.holders.empty()) {
            w.key("cancelled_holders").begin_array();
            for (const auto& id : outcome.holders)
                w.value(id);
            w.end_array();
        }
        w.end_object();
    }
    w.end_array().field("released", released).end_object();
    print_json_line(std::move(out));
}

struct Counts {
    int released = 0;
    int running = 0;
    int kept = 0;
    int reported = 0;
};

// One whole sentence per case, so that a translation never has to glue pieces.
// The releases the plugin's epilogs kept on this host while the ledger could not be used
// (gpuslots/pending_release.hpp), applied before anything is judged, so that the judgements
// see the ledger without them. One line each: on stdout, or on stderr with --json.
void apply_pending(const ReconcileOptions& o, const std::vector<std::string>& scope) {
    auto records = RecordDir::open_existing(o.record_dir);
    if (!records) {
        if (::geteuid() == 0) warn("{}", records.error().message);
        return;
    }
    const auto show = [&](const std::string& line) {
        if (o.json) {
            complain("pending release: {}", line);
        } else {
            say("pending release: {}\n", line);
        }
    };
    std::vector<std::optional<std::string>> nodes;
    if (scope.empty()) nodes.emplace_back(std::nullopt);
    for (const auto& s : scope)
        nodes.emplace_back(s);
    for (const auto& node : nodes) {
        if (o.dry_run) {
            for (const auto& p : records->pending(node))
                show(tr("job {} on {}: would be applied", p.record.job_id, p.record.node));
            continue;
        }
        const PendingOutcome done = apply_pending_releases(*records, node);
        for (const auto& line : done.applied)
            show(line);
        for (const auto& line : done.kept)
            warn("{}", line);
    }
}

void print_summary(std::size_t checked, bool asked, bool dry_run, const Counts& c) {
    if (asked && dry_run) {
        say("reconcile: {} reservation(s) checked against slurmctld: {} would be released, {} "
            "held by running jobs, {} kept for now, {} old manual one(s) reported\n",
            checked, c.released, c.running, c.kept, c.reported);
    } else if (asked) {
        say("reconcile: {} reservation(s) checked against slurmctld: {} released, {} held by "
            "running jobs, {} kept for now, {} old manual one(s) reported\n",
            checked, c.released, c.running, c.kept, c.reported);
    } else if (dry_run) {
        say("reconcile: {} reservation(s) checked: {} would be released, {} held by running "
            "jobs, {} kept for now, {} old manual one(s) reported\n",
            checked, c.released, c.running, c.kept, c.reported);
    } else {
        say("reconcile: {} reservation(s) checked: {} released, {} held by running jobs, {} "
            "kept for now, {} old manual one(s) reported\n",
            checked, c.released, c.running, c.kept, c.reported);
    }
}

Result<std::vector<std::string>> servers_in_scope(const std::string& expression) {
    if (expression.empty()) return std::vector<std::string>();
    auto names = expand_hostlist(expression);
    if (!names) {
        return make_error(Errc::bad_input, "--server: {}", names.error().message);
    }
    return names;
}

int run_reconcile(const ReconcileOptions& o, const Globals& globals) {
    constexpr int kMaxSeconds = 365 * 86400;
    auto grace = parse_count(o.grace, "--grace", Range{0, kMaxSeconds});
    if (!grace) return report(grace.error());
    auto old = parse_count(o.old, "--old", Range{0, kMaxSeconds});
    if (!old) return report(old.error());
    auto timeout = parse_count(o.timeout, "--timeout", Range{1, 3600});
    if (!timeout) return report(timeout.error());
    auto scope = servers_in_scope(o.server);
    if (!scope) return report(scope.error());
    auto config = load(globals);
    if (!config) return report(config.error());
    const bool root = ::geteuid() == 0;
    if (!o.dry_run && !root) {
        return report(make_error(Errc::permission,
                                 "permission denied: only root may release Slurm jobs' "
                                 "reservations; try 'gpuslots reconcile --dry-run'"));
    }
    auto ledger =
        o.dry_run ? open_ledger(*config, Ledger::Access::read_only) : open_for_writing(*config);
    if (!ledger) return report(ledger.error());
    apply_pending(o, *scope);

    // The ledger first, then slurmctld (gpuslots/reconcile.hpp says why).
    ReconcileRules rules;
    rules.now_unix = static_cast<std::int64_t>(std::time(nullptr));
    rules.grace = std::chrono::seconds(*grace);
    rules.manual_old = std::chrono::seconds(*old);
    auto all = (*ledger)->reservations();
    if (!all) return report(all.error());
    std::vector<Reservation> reservations;
    bool any_job = false;
    for (auto& r : *all) {
        if (!scope->empty() && std::find(scope->begin(), scope->end(), r.server) == scope->end())
            continue;
        any_job |= r.origin == Origin::slurm;
        // An expired booking on a server Slurm schedules has a holder job to cancel.
        any_job |= r.origin == Origin::manual && r.expires_unix &&
                   *r.expires_unix <= rules.now_unix && scheduled(*config, r.server);
        reservations.push_back(std::move(r));
    }
    const SlurmController slurm{std::chrono::seconds(*timeout)};
    Result<std::vector<SlurmJobInfo>> jobs = std::vector<SlurmJobInfo>();
    if (any_job) {
        jobs = ask_jobs(slurm, root);
        if (!jobs) {
            return report(make_error(Errc::config,
                                     "cannot ask slurmctld about the ledger's jobs: {}; "
                                     "nothing was released",
                                     jobs.error().message));
        }
    }

    std::vector<Outcome> outcomes;
    int released = 0, running = 0, kept = 0, reported = 0;
    std::optional<Error> failure;
    for (auto& j : judge(reservations, JobView(*jobs), rules)) {
        Outcome outcome{std::move(j), Action::none, {}};
        const Judgement& judged = outcome.judgement;
        if (judged.verdict == Verdict::release && failure) {
            outcome.action = Action::kept;  // the ledger failed: no further tries this run
        } else if (judged.verdict == Verdict::release && o.dry_run) {
            outcome.action = Action::would_release;
            ++released;
        } else if (judged.verdict == Verdict::release) {
            auto done = (*ledger)->release_if_unchanged(judged.reservation);
            if (!done) {
                failure = done.error();
                outcome.action = Action::kept;
            } else {
                outcome.action = done->has_value() ? Action::released : Action::changed;
                released += done->has_value();
                if (done->has_value() && judged.reservation.origin == Origin::manual &&
                    scheduled(*config, judged.reservation.server)) {
                    if (auto stuck = cancel_holders(slurm, *jobs, outcome); stuck && !failure) {
                        failure = std::move(stuck);
                    }
                }
            }
        } else if (judged.verdict == Verdict::report) {
            outcome.action = Action::reported;
            ++reported;
        } else if (judged.reason == Reason::running) {
            ++running;
        } else if (judged.reason != Reason::manual) {
            outcome.action = Action::kept;
            ++kept;
        }
        if (!o.json) print_line(outcome);
        outcomes.push_back(std::move(outcome));
    }
    if (o.json) {
        print_json(outcomes, o, rules, any_job, released);
    } else {
        print_summary(reservations.size(), any_job, o.dry_run,
                      Counts{released, running, kept, reported});
    }
    if (failure) {
        return report(make_error(failure->code, "stopped releasing: {}", failure->message));
    }
    return kOk;
}

}  // namespace

void setup_reconcile(CLI::App& app, const Globals& globals, Runner& runner) {
    auto o = std::make_shared<ReconcileOptions>();
    CLI::App* sub = app.add_subcommand(
        "reconcile",
        "Release the reservations of Slurm jobs that no longer run on their node (finished, "
        "cancelled, requeued elsewhere, unknown to slurmctld: an epilog that never ran), after "
        "asking slurmctld; never one younger than --grace; manual ones only once expired "
        "(allocate --for), old ones are reported. Safe to run from a timer on the controller or on "
        "every node. Exit 4: "
        "slurmctld could not be asked, nothing was released");
    sub->add_flag("--dry-run", o->dry_run,
                  "Only say what would be released; changes nothing (needs only read access)");
    sub->add_option("--grace", o->grace,
                    "Never release a reservation younger than this many seconds: its job's "
                    "prolog may still be running (default 300)");
    sub->add_option("--server", o->server,
                    "Only the reservations on these servers (a name or a hostlist, e.g. "
                    "n[1-4])");
    sub->add_option("--old", o->old,
                    "Report manual reservations held longer than this many seconds "
                    "(default 86400)");
    sub->add_option("--timeout", o->timeout,
                    "Give up on slurmctld after this many seconds (default 30)");
    sub->add_option("--record-dir", o->record_dir,
                    "Where the plugin keeps its job records on this host (its plugstack "
                    "record_dir=): the releases its epilogs kept there while the ledger could "
                    "not be reached are applied first (default /run/gpuslots)");
    sub->add_flag("--json", o->json, "Print one JSON object instead of the lines");
    sub->callback(
        [o, &globals, &runner] { runner = [o, &globals] { return run_reconcile(*o, globals); }; });
}

}  // namespace gpuslots::cli
