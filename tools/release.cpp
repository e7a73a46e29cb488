// gpuslots release TASK_ID | --job JOBID [--server NAME]: give slots back. A manual task can
// be released by its owner or root; a Slurm job's reservation (normally freed by the epilog)
// only by root, for clean-up after a lost epilog.
//
// A manual booking on a server Slurm schedules also holds a Slurm job (see allocate.cpp): the
// ledger is released first, then the holder is cancelled. Should the cancel fail, Slurm keeps
// counting the slots for a while (jobs wait rather than share a GPU) and the tool says how to
// cancel it by hand. A holder left without a ledger entry (the tool was killed between its two
// steps) is found by its name and cancelled too.
#include "cli.hpp"
#include "gpuslots/request.hpp"
#include "gpuslots/slurm_controller.hpp"
#include "json_writer.hpp"
#include "text.hpp"

namespace gpuslots::cli {
namespace {

struct ReleaseOptions {
    std::string task_id;
    std::string job_id;
    std::string server;
    bool json = false;
};

Error not_found(bool slurm, const std::string& id, const std::optional<std::string>& server) {
    if (slurm) {
        return server ? make_error(Errc::not_found,
                                   "job '{}' holds no reservation on {}; see 'gpuslots status'", id,
                                   *server)
                      : make_error(Errc::not_found,
                                   "job '{}' holds no reservation; see 'gpuslots status'", id);
    }
    return server ? make_error(Errc::not_found,
                               "task '{}' holds no reservation on {}; see 'gpuslots status'", id,
                               *server)
                  : make_error(Errc::not_found,
                               "task '{}' holds no reservation; see 'gpuslots status'", id);
}

int run_release(const ReleaseOptions& o, const Globals& globals) {
    const bool slurm = !o.job_id.empty();
    if (slurm == !o.task_id.empty()) {
        return report(make_error(Errc::bad_input,
                                 "release: give either TASK_ID or --job JOBID (see --help)"));
    }
    if (slurm) {
        if (auto id = parse_count(o.job_id, "--job", Range{1, 2147483647}); !id) {
            return report(id.error());
        }
    } else if (auto valid = validate_task_id(o.task_id); !valid) {
        return report(valid.error());
    }
    auto config = load(globals);
    if (!config) return report(config.error());
    auto ledger = open_for_writing(*config);
    if (!ledger) return report(ledger.error());
    if (slurm && ::geteuid() != 0) {
        return report(make_error(Errc::permission,
                                 "permission denied: only root may release a Slurm job's "
                                 "reservation (the epilog does it when the job ends)"));
    }
    std::optional<std::string> server;
    if (!o.server.empty()) server = o.server;
    // root may release anything; anyone else only what they reserved.
    std::optional<std::uint32_t> owner;
    if (::geteuid() != 0) owner = requesting_uid();
    const std::string& id = slurm ? o.job_id : o.task_id;
    auto released = (*ledger)->release(slurm ? Origin::slurm : Origin::manual, id, server, owner);
    if (!released) return report(released.error());
    // Ask Slurm only where a holder can exist: a booking on a server it schedules, or no
    // booking at all (a holder left behind).
    bool scheduled = false;
    for (const auto& s : config->fleet.servers())
        scheduled |= s.slurm != SlurmMode::none;
    bool holder_possible = released->empty() && scheduled;
    for (const auto& r : *released) {
        const Server* s = config->fleet.server(r.server);
        holder_possible |= s != nullptr && s->slurm != SlurmMode::none;
    }
    std::vector<std::string> holders;
    if (!slurm && holder_possible && ::geteuid() == 0) {
        const SlurmController controller;
        auto found = controller.holders(o.task_id);
        if (!found) {
            return report(make_error(
                Errc::config,
                "released {} in the ledger, but cannot ask Slurm for its holder job: {}; "
                "cancel it with 'scancel --name={}{}'",
                o.task_id, found.error().message, kHolderPrefix, o.task_id));
        }
        for (const auto& job : *found)
            holders.push_back(job.id);
        if (auto cancelled = controller.cancel(holders); !cancelled) {
            return report(make_error(Errc::config,
                                     "released {} in the ledger, but its holder job(s) {} are "
                                     "still there: {}; cancel them with 'scancel {}'",
                                     o.task_id, fmt::join(holders, " "), cancelled.error().message,
                                     fmt::join(holders, " ")));
        }
    }
    if (released->empty() && !holders.empty()) {
        say("released holder job(s) {} of {} (the ledger had no booking for it)\n",
            fmt::join(holders, " "), o.task_id);
        return kOk;
    }
    if (released->empty()) return report(not_found(slurm, id, server));
    for (const auto& r : *released) {
        const std::string gpus = gpu_list(r.gpus);
        if (o.json) {
            std::string out;
            JsonWriter(out)
                .begin_object()
                .field("id", r.task_id)
                .field("origin", origin_name(r.origin))
                .field("server", r.server)
                .array("gpus", r.gpus)
                .field("cpus", r.cpus)
                .end_object();
            print_json_line(std::move(out));
        } else if (slurm) {
            say("released job {} on {}: GPUs {} and {} CPUs\n", r.task_id, r.server, gpus, r.cpus);
        } else if (!holders.empty()) {
            say("released {} on {}: GPUs {} and {} CPUs (cancelled holder job {})\n", r.task_id,
                r.server, gpus, r.cpus, fmt::join(holders, " "));
        } else {
            say("released {} on {}: GPUs {} and {} CPUs\n", r.task_id, r.server, gpus, r.cpus);
        }
    }
    return kOk;
}

}  // namespace

void setup_release(CLI::App& app, const Globals& globals, Runner& runner) {
    auto o = std::make_shared<ReleaseOptions>();
    CLI::App* sub = app.add_subcommand(
        "release", "Release the reservation of TASK_ID (or of Slurm job --job JOBID)");
    sub->add_option("TASK_ID", o->task_id, "The task id given to 'allocate'");
    sub->add_option("--job", o->job_id,
                    "Release a Slurm job's reservation instead (root only; the epilog "
                    "normally does this)");
    sub->add_option("--server", o->server, "Only the reservation on this server");
    sub->add_flag("--json", o->json, "Print each released reservation as a JSON object");
    sub->callback(
        [o, &globals, &runner] { runner = [o, &globals] { return run_release(*o, globals); }; });
}

}  // namespace gpuslots::cli
