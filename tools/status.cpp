// gpuslots status [--json] [--no-slurm] [--server NAME] [--job JOBID | --task TASK_ID]: the
// original tool's table, or one JSON object for automation. Reading needs no more than read
// access to the ledger (like squeue). The filters answer "what does job 42 hold, and where"
// without a JSON parser: Slurm's own `scontrol show job` knows nothing of the ledger.
//
// Where the ledger holds Slurm jobs' reservations and this host has a Slurm configuration,
// slurmctld is asked which of those jobs still run there (reconcile's rules, grace 0), and a
// reservation whose job is gone is marked: "job:42(gone)" in the table, "gone": true in the
// JSON. Without a Slurm configuration, or with --no-slurm, nothing is asked: status stays as
// fast as reading the ledger. slurmctld that does not answer within 5 s costs those 5 s once
// and a warning, never the status itself.
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <string>

#include "cli.hpp"
#include "gpuslots/reconcile.hpp"
#include "gpuslots/request.hpp"
#include "gpuslots/status.hpp"
#include "gpuslots/storage.hpp"
#include "json_writer.hpp"
#include "status_view.hpp"
#include "text.hpp"

namespace gpuslots::cli {
namespace {

struct StatusOptions {
    bool json = false;
    bool no_slurm = false;
    std::string server;
    std::string job_id;
    std::string task_id;
};

// nullopt when there is nothing to ask (no Slurm job in the ledger); marks.checked false when
// slurmctld was not asked (no Slurm here, --no-slurm) or could not be (warned).
std::optional<SlurmMarks> ask_slurm(const std::vector<Reservation>& reservations,
                                    const StatusOptions& options) {
    const bool any_job =
        std::any_of(reservations.begin(), reservations.end(),
                    [](const Reservation& r) { return r.origin == Origin::slurm; });
    if (!any_job) return std::nullopt;
    SlurmMarks marks;
    if (options.no_slurm || !slurm_configured()) return marks;
    auto jobs = ask_jobs(SlurmController(std::chrono::seconds(5)), ::geteuid() == 0);
    if (!jobs) {
        warn(
            "cannot ask slurmctld whether the ledger's jobs still run: {} (--no-slurm does not "
            "ask)",
            jobs.error().message);
        return marks;
    }
    ReconcileRules rules;
    rules.now_unix = static_cast<std::int64_t>(std::time(nullptr));
    rules.grace = std::chrono::seconds(0);
    marks.checked = true;
    for (const auto& j : judge(reservations, JobView(*jobs), rules)) {
        if (j.reservation.origin != Origin::slurm) continue;
        const bool gone = j.verdict == Verdict::release;
        marks.gone += gone;
        marks.by_reservation[mark_key(j.reservation)] = SlurmMark{j.job_state, gone};
    }
    return marks;
}

// The filter the options ask for, checked against the config; bad input is exit 2.
Result<StatusFilter> filter_for(const StatusOptions& o, const Config& config,
                                const FleetStatus& st) {
    StatusFilter filter;
    if (!o.server.empty()) {
        bool removed = false;
        for (const auto& s : st.removed)
            removed |= s.name == o.server;
        if (!config.fleet.find(o.server) && !removed) {
            return make_error(Errc::bad_input,
                              "--server: '{}' is not in the config {} and holds nothing in the "
                              "ledger",
                              o.server, config.source);
        }
        filter.server = o.server;
    }
    if (!o.job_id.empty()) {
        if (auto id = parse_count(o.job_id, "--job", Range{1, 2147483647}); !id) return id.error();
        filter.task = {Origin::slurm, o.job_id};
    } else if (!o.task_id.empty()) {
        if (auto valid = validate_task_id(o.task_id); !valid) return valid.error();
        filter.task = {Origin::manual, o.task_id};
    }
    return filter;
}

// The one line that says which servers this ledger does not know, why, and where to look.
void warn_unknown(const FleetStatus& st, const std::string& ledger) {
    std::vector<std::string> names;
    for (const auto& s : st.servers) {
        if (!s.known && names.size() < 4) names.push_back(s.name);
    }
    const std::string shown =
        st.totals.unknown_servers > 4
            ? tr("{} and {} more", fmt::join(names, " "), st.totals.unknown_servers - 4)
            : fmt::format("{}", fmt::join(names, " "));
    if (st.authority.scope == Authority::Scope::node) {
        warn(
            "{}: unknown here: {} is the node ledger of {} (its Slurm plugin writes it), and each "
            "node books its jobs in its own; run 'gpuslots status' on that node, or share one "
            "ledger for the cluster (state.backend: mariadb, README 'One ledger for the cluster')",
            shown, ledger, fmt::join(st.authority.nodes, ","));
    } else {
        warn(
            "{}: unknown here: Slurm schedules them, and their prologs book their jobs in each "
            "node's own ledger, not in {}; run 'gpuslots status' on that node, or share one "
            "ledger for the cluster (state.backend: mariadb, README 'One ledger for the cluster')",
            shown, ledger);
    }
}

int run_status(const StatusOptions& options, const Globals& globals) {
    if (!options.job_id.empty() && !options.task_id.empty()) {
        return report(make_error(Errc::bad_input, "status: give --job or --task, not both"));
    }
    auto config = load(globals);
    if (!config) return report(config.error());
    auto ledger = open_ledger(*config, Ledger::Access::read_only);
    if (!ledger) return report(ledger.error());
    auto reservations = (*ledger)->reservations();
    if (!reservations) return report(reservations.error());
    auto authority = (*ledger)->authority();
    if (!authority) return report(authority.error());
    const std::optional<SlurmMarks> marks = ask_slurm(*reservations, options);
    FleetStatus st = summarize(config->fleet, std::move(*reservations), *authority);
    auto filter = filter_for(options, *config, st);
    if (!filter) return report(filter.error());
    if (filter->server || filter->task) st = select(std::move(st), *filter);
    if (filter->task && st.servers.empty() && st.removed.empty()) {
        const std::string& id = filter->task->second;
        if (filter->task->first == Origin::slurm) {
            return report(filter->server
                              ? make_error(Errc::not_found, "job {} holds no reservation on {}", id,
                                           *filter->server)
                              : make_error(Errc::not_found, "job {} holds no reservation", id));
        }
        return report(filter->server
                          ? make_error(Errc::not_found, "task '{}' holds no reservation on {}", id,
                                       *filter->server)
                          : make_error(Errc::not_found, "task '{}' holds no reservation", id));
    }
    const SlurmMarks* shown = marks ? &*marks : nullptr;
    if (options.json) {
        print_json_line(status_json(st, config->source, ledger_location(config->state), shown));
    } else {
        print_status_table(st, shown);
    }
    if (marks && marks->gone > 0) {
        warn(
            "{} reservation(s) of Slurm jobs that no longer run there (marked gone); 'gpuslots "
            "reconcile --dry-run' shows them, 'gpuslots reconcile' releases them",
            marks->gone);
    }
    if (st.totals.unknown_servers > 0) warn_unknown(st, ledger_location(config->state));
    for (const auto& s : st.removed) {
        std::vector<std::string> ids;
        for (const auto& r : s.tasks)
            ids.push_back(task_label(r));
        warn(
            "server {} is no longer in the config but holds {} reservation(s): {}; they stay "
            "until released",
            s.name, s.tasks.size(), fmt::join(ids, " "));
    }
    for (const auto& p : st.problems)
        complain("ledger problem: {}", p);
    return st.problems.empty() ? kOk : kUnusable;
}

}  // namespace

void setup_status(CLI::App& app, const Globals& globals, Runner& runner) {
    auto options = std::make_shared<StatusOptions>();
    CLI::App* sub =
        app.add_subcommand("status", "Show free and reserved GPUs and CPUs per server, and totals");
    sub->add_flag("--json", options->json, "Print one JSON object instead of the table");
    sub->add_flag("--no-slurm", options->no_slurm,
                  "Do not ask slurmctld whether the ledger's Slurm jobs still run (by default "
                  "it is asked where Slurm is configured, and jobs that are gone are marked)");
    sub->add_option("--server", options->server, "Only this server (totals are then this server's)")
        ->option_text("NAME");
    sub->add_option("--job", options->job_id,
                    "Only the servers where Slurm job JOBID holds slots, and only its reservation "
                    "there; exit 3 if it holds none")
        ->option_text("JOBID");
    sub->add_option("--task", options->task_id,
                    "The same for a manual reservation made with 'allocate TASK_ID'")
        ->option_text("TASK_ID");
    sub->callback([options, &globals, &runner] {
        runner = [options, &globals] { return run_status(*options, globals); };
    });
}

}  // namespace gpuslots::cli
