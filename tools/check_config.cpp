// gpuslots check-config: validate the config and look at the ledger it names, without
// changing anything; where the config says Slurm schedules servers, compare it with what
// slurmctld says (through Slurm's commands: gpuslots_controller). For admins after an edit,
// and for monitoring.
#include <algorithm>

#include "cli.hpp"
#include "gpuslots/slurm_setup.hpp"
#include "gpuslots/status.hpp"
#include "gpuslots/storage.hpp"
#include "text.hpp"

namespace gpuslots::cli {
namespace {

struct CheckOptions {
    bool slurm = false;
    bool no_slurm = false;
};

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
    auto ledger = open_ledger(*config, Ledger::Access::read_only);
    if (!ledger) return report(ledger.error());
    auto problems = (*ledger)->verify();
    if (!problems) return report(problems.error());
    auto reservations = (*ledger)->reservations();
    if (!reservations) return report(reservations.error());
    const std::size_t count = reservations->size();
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
    } else if (o.no_slurm) {
        say("  slurmctld: not compared (--no-slurm)\n");
    } else {
        say("  slurmctld: not compared (no server says 'slurm: slots' or 'slurm: follow')\n");
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
    sub->callback([o, &globals, &runner] {
        runner = [o, &globals] { return run_check_config(*o, globals); };
    });
}

}  // namespace gpuslots::cli
