// gpuslots check-config: validate the config and look at the ledger it names, without
// changing anything. For admins after an edit, and for monitoring.
#include "cli.hpp"
#include "gpuslots/status.hpp"
#include "gpuslots/storage.hpp"

namespace gpuslots::cli {
namespace {

int run_check_config(const Globals& globals) {
    auto config = load(globals);
    if (!config) return report(config.error());
    long long gpus = 0;
    long long cpus = 0;
    for (const auto& s : config->fleet.servers()) {
        gpus += s.gpus;
        cpus += s.cpus;
    }
    fmt::print("config {}: OK\n", config->source);
    fmt::print("  servers: {} ({} GPUs, {} CPUs in all)\n", config->fleet.size(), gpus, cpus);
    fmt::print("  requests: {}..{} GPUs, {}..{} CPUs\n", config->gpus_per_request.min,
               config->gpus_per_request.max, config->cpus_per_request.min,
               config->cpus_per_request.max);
    fmt::print("  slurm: prolog waits up to {} s; jobs without GPUs {} GPUs; sets {}\n",
               config->slurm.prolog_wait.count(),
               config->slurm.hide_gpus_without_reservation ? "see no" : "see all",
               fmt::join(config->slurm.visible_devices_env, " "));
    fmt::print("  ledger: {}\n", describe_storage(config->state));

    int rc = kOk;
    for (const auto& warning : storage_warnings(*config))
        warn(warning);
    auto ledger = open_ledger(*config, Ledger::Access::read_only);
    if (!ledger) return report(ledger.error());
    auto problems = (*ledger)->verify();
    if (!problems) return report(problems.error());
    auto reservations = (*ledger)->reservations();
    if (!reservations) return report(reservations.error());
    const std::size_t count = reservations->size();
    const FleetStatus st = summarize(config->fleet, std::move(*reservations));
    fmt::print("  ledger holds {} reservation(s)\n", count);
    for (const auto& s : st.removed) {
        warn(fmt::format("server {} is no longer in the config but holds {} reservation(s)", s.name,
                         s.tasks.size()));
    }
    for (const auto& p : *problems) {
        fmt::print(stderr, "gpuslots: ledger problem: {}\n", p);
        rc = kUnusable;
    }
    for (const auto& p : st.problems) {
        fmt::print(stderr, "gpuslots: ledger problem: {}\n", p);
        rc = kUnusable;
    }
    return rc;
}

}  // namespace

void setup_check_config(CLI::App& app, const Globals& globals, Runner& runner) {
    CLI::App* sub = app.add_subcommand(
        "check-config", "Validate the config and check the ledger it names; changes nothing");
    sub->callback(
        [&globals, &runner] { runner = [&globals] { return run_check_config(globals); }; });
}

}  // namespace gpuslots::cli
