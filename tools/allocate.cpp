// gpuslots allocate TASK_ID GPUS CPUS [--server NAME] [--wait SECONDS] [--for DURATION] [--json]:
// reserve by hand, for work run outside Slurm. Best fit unless --server names the server.
// --for (or manual.expire_after in the config) makes the reservation lapse: the ledger records
// when, `status` shows it expired, and `reconcile` releases it (with its holder job).
//
// On a server Slurm schedules (slurm: slots / follow in the config), a booking only in the
// ledger would be invisible to Slurm's scheduler: it would start a job there that the prolog
// then has to refuse. So the booking holds a Slurm job first (salloc --no-shell, as root,
// named "gpuslots-hold:TASK_ID", asking for the slot GRES), for as long as it lasts; `release`
// cancels it. The holder comes before the ledger entry: once it runs, Slurm counts the slots
// and no job can be scheduled into them between the two steps. If the ledger then refuses,
// the holder is cancelled again. On a server that follows Slurm's gres/gpu, the holder asks
// for gres:gpu and the booking takes exactly the GPUs Slurm gave it. Servers Slurm does not
// schedule book in the ledger only.
#include <unistd.h>

#include <ctime>

#include "cli.hpp"
#include "gpuslots/placement.hpp"
#include "gpuslots/request.hpp"
#include "gpuslots/slurm_controller.hpp"
#include "gpuslots/status.hpp"
#include "json_writer.hpp"
#include "text.hpp"

namespace gpuslots::cli {
namespace {

struct AllocateOptions {
    std::string task_id;
    std::string gpus;
    std::string cpus;
    std::string server;
    std::string wait = "10";
    std::optional<std::string> for_duration;  // --for; nullopt: the config's default
    bool json = false;
};

// How long the reservation lasts: --for DURATION or never, else manual.expire_after.
Result<std::optional<std::chrono::seconds>> lifetime(const AllocateOptions& o,
                                                     const Config& config) {
    if (!o.for_duration) return config.manual.expire_after;
    if (*o.for_duration == "never") return std::optional<std::chrono::seconds>();
    auto d = parse_duration(*o.for_duration, "--for");
    if (!d) return make_error(Errc::bad_input, "{}, or never", d.error().message);
    return std::optional<std::chrono::seconds>(*d);
}

// `request`, lapsing `lasts` from now: stamped just before the reservation is made (after a
// holder job started), so that the booking lasts as long as asked.
Request lasting(Request request, const std::optional<std::chrono::seconds>& lasts) {
    if (lasts)
        request.expires_unix = static_cast<std::int64_t>(std::time(nullptr)) + lasts->count();
    return request;
}

std::string iso8601(std::int64_t unix_seconds) {
    std::string out;
    append_utc_iso8601(out, unix_seconds);
    return out;
}

// Best fit over what the ledger holds now: the server to book on, before booking. A server
// whose books this ledger does not keep (Authority) is never chosen.
Result<std::string> choose_server(Ledger& ledger, const Config& config, const Authority& authority,
                                  int gpus, int cpus) {
    auto held = ledger.reservations();
    if (!held) return held.error();
    const FleetStatus st = summarize(config.fleet, std::move(*held), authority);
    std::vector<ServerUsage> usage;
    usage.reserve(st.servers.size());
    for (const auto& s : st.servers) {
        if (!s.known) {
            usage.push_back({s.gpus_total, s.cpus_total, s.gpus_total + 1, s.cpus_total + 1});
            continue;
        }
        usage.push_back(
            {s.gpus_total, s.cpus_total, s.gpus_total - s.gpus_free, s.cpus_total - s.cpus_free});
    }
    if (st.totals.unknown_servers == static_cast<long long>(st.servers.size())) {
        return make_error(Errc::bad_input,
                          "this ledger keeps the books of none of the servers in {}: {} ({} "
                          "ledger); book on a node with 'gpuslots allocate' run there, or share "
                          "one ledger for the cluster (state.backend: mariadb, README 'One ledger "
                          "for the cluster')",
                          config.source, ledger.location(), scope_name(authority.scope));
    }
    auto index = best_fit(usage, gpus, cpus);
    if (!index && st.totals.unknown_servers > 0) {
        return make_error(Errc::no_fit,
                          "{} fit on no server whose books this ledger keeps now; {} server(s) "
                          "book in their own nodes' ledgers and were not considered (see "
                          "'gpuslots status'); try later, or book on one of those nodes",
                          slots_text(gpus, cpus), st.totals.unknown_servers);
    }
    if (!index) {
        return make_error(Errc::no_fit, "{} fit on no server now; see 'gpuslots status'",
                          slots_text(gpus, cpus));
    }
    return st.servers[*index].name;
}

// The GRES the holder asks for, as salloc --gres wants it.
std::string holder_gres(SlurmMode mode, int gpus, int cpus) {
    std::string gres;
    if (gpus > 0) gres = fmt::format("{}:{}", mode == SlurmMode::follow ? "gpu" : "gpuslots", gpus);
    if (cpus > 0) gres += fmt::format("{}cpuslots:{}", gres.empty() ? "" : ",", cpus);
    return gres;
}

int print_result(const Reservation& r, const std::optional<Holder>& holder, bool json) {
    if (json) {
        std::string out;
        JsonWriter w(out);
        w.begin_object()
            .field("id", r.task_id)
            .field("server", r.server)
            .array("gpus", r.gpus)
            .field("cpus", r.cpus);
        if (r.expires_unix) w.field("expires_at", iso8601(*r.expires_unix));
        if (holder) w.field("holder_job", holder->job_id);
        w.end_object();
        print_json_line(std::move(out));
        return kOk;
    }
    const std::string gpus = gpu_list(r.gpus);
    if (holder && r.expires_unix) {
        say("allocated {} on {}: GPUs {} and {} CPUs, until {} (Slurm counts them: holder job "
            "{})\n",
            r.task_id, r.server, gpus, r.cpus, iso8601(*r.expires_unix), holder->job_id);
    } else if (holder) {
        say("allocated {} on {}: GPUs {} and {} CPUs (Slurm counts them: holder job {})\n",
            r.task_id, r.server, gpus, r.cpus, holder->job_id);
    } else if (r.expires_unix) {
        say("allocated {} on {}: GPUs {} and {} CPUs, until {}\n", r.task_id, r.server, gpus,
            r.cpus, iso8601(*r.expires_unix));
    } else {
        say("allocated {} on {}: GPUs {} and {} CPUs\n", r.task_id, r.server, gpus, r.cpus);
    }
    return kOk;
}

// Cancels a holder job whose booking did not happen; says how to do it by hand if that fails.
void cancel_holder(const SlurmController& slurm, const Holder& holder) {
    if (auto cancelled = slurm.cancel({holder.job_id}); !cancelled) {
        warn("could not cancel holder job {} ({}); cancel it with 'scancel {}'", holder.job_id,
             cancelled.error().message, holder.job_id);
    }
}

int run_allocate(const AllocateOptions& o, const Globals& globals) {
    if (auto valid = validate_task_id(o.task_id); !valid) return report(valid.error());
    auto config = load(globals);
    if (!config) return report(config.error());
    auto gpus = parse_count(o.gpus, "GPUS", config->gpus_per_request);
    if (!gpus) return report(gpus.error());
    auto cpus = parse_count(o.cpus, "CPUS", config->cpus_per_request);
    if (!cpus) return report(cpus.error());
    auto wait = parse_count(o.wait, "--wait", Range{1, 3600});
    if (!wait) return report(wait.error());
    auto lasts = lifetime(o, *config);
    if (!lasts) return report(lasts.error());
    if (!o.server.empty() && !config->fleet.find(o.server)) {
        return report(make_error(Errc::bad_input, "--server: '{}' is not in the config {}",
                                 o.server, config->source));
    }
    auto ledger = open_for_writing(*config);
    if (!ledger) return report(ledger.error());
    Request request;
    request.task_id = o.task_id;
    request.gpus = *gpus;
    request.cpus = *cpus;
    request.owner_uid = requesting_uid();

    bool scheduled = false;
    for (const auto& s : config->fleet.servers())
        scheduled |= s.slurm != SlurmMode::none;
    if (!scheduled) {  // today's behaviour, in one transaction
        auto r = o.server.empty() ? (*ledger)->allocate(lasting(request, *lasts))
                                  : (*ledger)->reserve(o.server, lasting(request, *lasts));
        if (!r) return report(r.error());
        return print_result(*r, std::nullopt, o.json);
    }

    // Before a holder job is started: a server whose books are kept in another node's ledger
    // is refused here, not after Slurm has been asked.
    auto authority = (*ledger)->authority();
    if (!authority) return report(authority.error());
    std::string name = o.server;
    if (name.empty()) {
        auto chosen = choose_server(**ledger, *config, *authority, *gpus, *cpus);
        if (!chosen) return report(chosen.error());
        name = *chosen;
    }
    const Server* server = config->fleet.server(name);
    if (!authority->covers(*server)) {
        return report(uncovered_server(*authority, *server, (*ledger)->location(), config->source));
    }
    const std::string gres = holder_gres(server->slurm, *gpus, *cpus);
    if (server->slurm == SlurmMode::none || gres.empty()) {
        auto r = (*ledger)->reserve(name, lasting(request, *lasts));
        if (!r) return report(r.error());
        return print_result(*r, std::nullopt, o.json);
    }
    if (::geteuid() != 0) {
        return report(make_error(Errc::permission,
                                 "permission denied: {} is scheduled by Slurm, so a booking there "
                                 "holds a Slurm job, which only root may submit for it",
                                 name));
    }
    const SlurmController slurm;
    auto holder = slurm.hold(HolderRequest{o.task_id, name, gres, std::chrono::seconds(*wait)});
    if (!holder) return report(holder.error());
    Request booked = request;
    if (server->slurm == SlurmMode::follow) {
        // Slurm's gres/gpu chose the holder's GPUs: the booking is exactly those.
        booked.exact_gpus = holder->gpus;
        if (static_cast<int>(holder->gpus.size()) != *gpus) {
            cancel_holder(slurm, *holder);
            return report(make_error(Errc::config,
                                     "Slurm gave holder job {} GPUs [{}], not {} GPU(s): cannot "
                                     "tell which GPUs it holds (see 'scontrol -d show job {}')",
                                     holder->job_id, join_ints(holder->gpus), *gpus,
                                     holder->job_id));
        }
        // With PrologFlags=Alloc the holder's own prolog has already recorded Slurm's GPUs
        // under the holder's job id (as for any job gres/gpu gave GPUs); the booking it
        // stands for takes them over. Slurm keeps them for the holder meanwhile, so no other
        // job can be given them in between.
        auto own = (*ledger)->release(Origin::slurm, holder->job_id, name);
        if (!own) {
            cancel_holder(slurm, *holder);
            return report(own.error());
        }
    }
    auto r = (*ledger)->reserve(name, lasting(booked, *lasts));
    if (!r) {
        cancel_holder(slurm, *holder);
        return report(r.error());
    }
    return print_result(*r, *holder, o.json);
}

}  // namespace

void setup_allocate(CLI::App& app, const Globals& globals, Runner& runner) {
    auto o = std::make_shared<AllocateOptions>();
    CLI::App* sub = app.add_subcommand(
        "allocate",
        "Reserve GPUS GPUs and CPUS CPUs for TASK_ID on the fullest server where they fit "
        "(or on --server); prints the server and the GPU indices. On a server Slurm schedules "
        "(slurm: slots), the booking also holds a Slurm job, so that Slurm counts it");
    sub->add_option("TASK_ID", o->task_id,
                    "Name for the reservation (letters, digits, . _ : @ + -)")
        ->required();
    sub->add_option("GPUS", o->gpus, "Number of GPUs (range from requests.gpus in the config)")
        ->required();
    sub->add_option("CPUS", o->cpus, "Number of CPUs (range from requests.cpus in the config)")
        ->required();
    sub->add_option("--server", o->server, "Reserve on this server instead of choosing one");
    sub->add_option("--wait", o->wait,
                    "On a server Slurm schedules: how long Slurm may take to find room for the "
                    "holder job, in seconds (default 10); exit 3 when it does not");
    sub->add_option("--for", o->for_duration,
                    "Let the reservation lapse after DURATION (30m, 2h, 1d, 1h30m; or never), "
                    "after which 'gpuslots reconcile' releases it (default: manual.expire_after "
                    "in the config, never unless set)");
    sub->add_flag("--json", o->json, "Print the result as one JSON object");
    sub->callback(
        [o, &globals, &runner] { runner = [o, &globals] { return run_allocate(*o, globals); }; });
}

}  // namespace gpuslots::cli
