// gpuslots check-config: validate the config and look at the ledger it names, without
// changing anything; where the config says Slurm schedules servers, compare it with what
// slurmctld says (through Slurm's commands: gpuslots_controller). For admins after an edit,
// and for monitoring.
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "cli.hpp"
#include "gpuslots/job_record.hpp"
#include "gpuslots/reconcile.hpp"
#include "gpuslots/slurm_setup.hpp"
#include "gpuslots/status.hpp"
#include "gpuslots/storage.hpp"
#include "text.hpp"

namespace gpuslots::cli {
namespace {

struct CheckOptions {
    bool slurm = false;
    bool no_slurm = false;
    std::string record_dir = kDefaultRecordDir;
};

// The plugin's job records on this host (gpuslots/job_record.hpp): jobs whose prolog read this
// config file and that hold slots in a ledger other than the one it names now (state.path or
// backend changed under them). Warnings:
// the plugin refuses new jobs on those nodes until they end, which is what keeps the two
// ledgers from handing out the same GPUs.
void check_moved_ledger(const Config& config, const std::string& record_dir) {
    auto records = RecordDir::open_existing(record_dir);
    if (!records) {
        // Root's directory (0700) is not for others to read: nothing to say then.
        if (::geteuid() == 0) warn("{}", records.error().message);
        return;
    }
    for (const auto& r : held_in_other_ledgers(config, *records, std::nullopt, false)) {
        // Records of prologs that read another config file are about another setup (another
        // cluster on this host, a test); the plugin itself judges by node alone.
        if (r.config_source != config.source) continue;
        warn(
            "the ledger has moved: job {} holds its slots on {} in {}, but the config names {}; "
            "the plugin refuses new GPU jobs on {} until it ends (or move the ledger back)",
            r.job_id, r.node, ledger_location(r.state), ledger_location(config.state), r.node);
    }
    // Releases the epilogs kept here while the ledger could not be used: their GPUs stay booked
    // until they are applied (gpuslots/pending_release.hpp).
    std::vector<std::string> unreadable;
    for (const auto& p : records->pending(std::nullopt, &unreadable)) {
        warn(
            "job {}'s release on {} is kept in {} (the ledger could not take it: {}); it is "
            "applied when the ledger answers, or by 'gpuslots reconcile' on this host",
            p.record.job_id, p.record.node, records->path(), p.why);
    }
    for (const auto& line : unreadable)
        warn("{}", line);
}

// Returns kOk or kUnusable; prints one line per problem.
int check_slurm(const Config& config) {
    std::size_t slots = 0, follow = 0;
    for (const auto& s : config.fleet.servers()) {
        slots += s.slurm == SlurmMode::slots;
        follow += s.slurm == SlurmMode::follow;
    }
    const SlurmController slurm;
    auto settings = slurm.settings();
    auto nodes = settings ? slurm.nodes() : Result<std::vector<SlurmNodeInfo>>(settings.error());
    if (!settings || !nodes) {
        const Error& e = settings ? nodes.error() : settings.error();
        complain("slurm: cannot ask slurmctld: {}", e.message);
        return kUnusable;
    }
    std::optional<MappingState> mapping;
    if (slots + follow > 0 &&
        std::find(settings->job_submit_plugins.begin(), settings->job_submit_plugins.end(),
                  "lua") != settings->job_submit_plugins.end()) {
        auto probed = slurm.mapping();
        if (!probed) {
            complain("slurm: {}", probed.error().message);
            return kUnusable;
        }
        mapping = *probed;
    }
    const auto problems = compare_with_slurm(config, *settings, *nodes, mapping);
    int rc = kOk;
    for (const auto& p : problems) {
        if (p.warning) {
            warn("slurm: {}", p.message);
        } else {
            complain("slurm: {}", p.message);
            rc = kUnusable;
        }
    }
    const bool active = mapping == MappingState::active;
    if (rc != kOk) {
        say("  slurmctld {}: {} server(s) scheduled by the slots, {} following gres/gpu; see the "
            "problems above\n",
            settings->version, slots, follow);
    } else if (active) {
        say("  slurmctld {}: {} server(s) scheduled by the slots, {} following gres/gpu; they "
            "match slurmctld; job_submit mapping active\n",
            settings->version, slots, follow);
    } else {
        say("  slurmctld {}: {} server(s) scheduled by the slots, {} following gres/gpu; they "
            "match slurmctld\n",
            settings->version, slots, follow);
    }
    return rc;
}

// The Slurm jobs' reservations whose job slurmctld no longer shows on their node (reconcile's
// rules): leaks, one line each with the command that fixes it. Returns kOk or kUnusable.
int check_leaks(const std::vector<Reservation>& reservations, bool must_ask) {
    std::size_t jobs = 0;
    for (const auto& r : reservations)
        jobs += r.origin == Origin::slurm;
    if (jobs == 0) return kOk;
    auto view = ask_jobs(SlurmController(), ::geteuid() == 0);
    if (!view && !must_ask) {
        warn(
            "slurm: cannot ask slurmctld whether the ledger's {} Slurm job reservation(s) still "
            "run: {}",
            jobs, view.error().message);
        return kOk;
    }
    if (!view) {
        complain(
            "slurm: cannot ask slurmctld whether the ledger's {} Slurm job reservation(s) "
            "still run: {}",
            jobs, view.error().message);
        return kUnusable;
    }
    // Judged without a grace period: a job that slurmctld no longer shows on the node is a
    // leak already; reconcile releases it once it is older than its grace period.
    ReconcileRules rules;
    rules.now_unix = static_cast<std::int64_t>(std::time(nullptr));
    const std::chrono::seconds grace = rules.grace;
    rules.grace = std::chrono::seconds(0);
    std::size_t leaks = 0;
    for (const auto& j : judge(reservations, JobView(*view), rules)) {
        if (j.reservation.origin != Origin::slurm || j.verdict != Verdict::release) continue;
        const Reservation& r = j.reservation;
        const bool young = rules.now_unix - r.created_unix < grace.count();
        if (young) {
            complain(
                "leak: job {} holds GPUs [{}] and {} CPUs on {}, but {}; release it with "
                "'gpuslots reconcile --server {}' once it is {} s old (see first: --dry-run)",
                r.task_id, join_ints(r.gpus), r.cpus, r.server, j.why, r.server, grace.count());
        } else {
            complain(
                "leak: job {} holds GPUs [{}] and {} CPUs on {}, but {}; release it with "
                "'gpuslots reconcile --server {}' (see first: --dry-run)",
                r.task_id, join_ints(r.gpus), r.cpus, r.server, j.why, r.server);
        }
        ++leaks;
    }
    say("  slurm jobs: {} reservation(s) compared with slurmctld, {} leaked\n", jobs, leaks);
    return leaks == 0 ? kOk : kUnusable;
}

int run_check_config(const CheckOptions& o, const Globals& globals) {
    auto config = load(globals);
    if (!config) return report(config.error());
    long long gpus = 0;
    long long cpus = 0;
    for (const auto& s : config->fleet.servers()) {
        gpus += s.gpus;
        cpus += s.cpus;
    }
    say("config {}: OK\n", config->source);
    say("  servers: {} ({} GPUs, {} CPUs in all)\n", config->fleet.size(), gpus, cpus);
    say("  requests: {}..{} GPUs, {}..{} CPUs\n", config->gpus_per_request.min,
        config->gpus_per_request.max, config->cpus_per_request.min, config->cpus_per_request.max);
    const auto wait = config->slurm.prolog_wait.count();
    const std::string variables =
        fmt::format("{}", fmt::join(config->slurm.visible_devices_env, " "));
    if (config->slurm.hide_gpus_without_reservation) {
        say("  slurm: prolog waits up to {} s; jobs without GPUs see no GPUs; sets {}\n", wait,
            variables);
    } else {
        say("  slurm: prolog waits up to {} s; jobs without GPUs see all GPUs; sets {}\n", wait,
            variables);
    }
    say("  ledger: {}\n", describe_storage(config->state));

    int rc = kOk;
    for (const auto& warning : storage_warnings(*config))
        warn("{}", warning);
    check_moved_ledger(*config, o.record_dir);
    auto ledger = open_ledger(*config, Ledger::Access::read_only);
    if (!ledger) return report(ledger.error());
    auto problems = (*ledger)->verify();
    if (!problems) return report(problems.error());
    auto reservations = (*ledger)->reservations();
    if (!reservations) return report(reservations.error());
    const std::size_t count = reservations->size();
    const std::vector<Reservation> held = *reservations;
    const FleetStatus st = summarize(config->fleet, std::move(*reservations));
    say("  ledger holds {} reservation(s)\n", count);
    for (const auto& s : st.removed) {
        warn("server {} is no longer in the config but holds {} reservation(s)", s.name,
             s.tasks.size());
    }
    for (const auto& p : *problems) {
        complain("ledger problem: {}", p);
        rc = kUnusable;
    }
    for (const auto& p : st.problems) {
        complain("ledger problem: {}", p);
        rc = kUnusable;
    }
    bool scheduled = false;
    for (const auto& s : config->fleet.servers())
        scheduled |= s.slurm != SlurmMode::none;
    if ((scheduled || o.slurm) && !o.no_slurm) {
        if (check_slurm(*config) != kOk) rc = kUnusable;
        if (check_leaks(held, true) != kOk) rc = kUnusable;
    } else {
        if (o.no_slurm) {
            say("  slurmctld: not compared (--no-slurm)\n");
        } else {
            say("  slurmctld: not compared (no server says 'slurm: slots' or 'slurm: follow')\n");
        }
        // The plugin books for jobs on servers Slurm does not schedule by the slots too.
        if (!o.no_slurm && slurm_configured() && check_leaks(held, false) != kOk) rc = kUnusable;
    }
    return rc;
}

}  // namespace

void setup_check_config(CLI::App& app, const Globals& globals, Runner& runner) {
    auto o = std::make_shared<CheckOptions>();
    CLI::App* sub = app.add_subcommand(
        "check-config",
        "Validate the config, check the ledger it names and, where Slurm schedules servers, "
        "compare them with slurmctld; changes nothing");
    sub->add_flag("--slurm", o->slurm,
                  "Compare with slurmctld even when no server says 'slurm: slots' (finds nodes "
                  "that count slots the config does not let Slurm schedule)");
    sub->add_flag("--no-slurm", o->no_slurm, "Do not ask slurmctld");
    sub->add_option("--record-dir", o->record_dir,
                    "Where the plugin keeps its job records on this host (its plugstack "
                    "record_dir=), to warn about jobs that hold slots in another ledger than "
                    "the configured one")
        ->capture_default_str();
    sub->callback([o, &globals, &runner] {
        runner = [o, &globals] { return run_check_config(*o, globals); };
    });
}

}  // namespace gpuslots::cli
