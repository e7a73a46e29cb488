// gpuslots slurm-config: the slurm.conf, gres.conf and job_submit.lua lines for the servers
// the config says Slurm schedules (slurm: slots / follow), with the counts taken from the
// config, so that Slurm's view of the slots cannot be written wrong by hand. Changes nothing;
// `check-config` compares the result with what slurmctld says.
#include "cli.hpp"
#include "gpuslots/slurm_setup.hpp"
#include "text.hpp"

namespace gpuslots::cli {
namespace {

int run_slurm_config(const Globals& globals) {
    auto config = load(globals);
    if (!config) return report(config.error());
    auto setup = slurm_setup(*config, GPUSLOTS_LUA_INSTALL_DIR);
    if (!setup) return report(setup.error());
    say("# gpuslots: what Slurm needs for the servers of {}\n", config->source);
    say("# (README \"Slurm schedules by the slots\" says why each line is there)\n");
    fmt::print("\n# ---- slurm.conf\n{}\n", fmt::join(setup->slurm_conf, "\n"));
    fmt::print("\n# ---- gres.conf\n{}\n", fmt::join(setup->gres_conf, "\n"));
    fmt::print("\n# ---- job_submit.lua\n{}\n", fmt::join(setup->job_submit, "\n"));
    return kOk;
}

}  // namespace

void setup_slurm_config(CLI::App& app, const Globals& globals, Runner& runner) {
    CLI::App* sub = app.add_subcommand(
        "slurm-config",
        "Print the slurm.conf, gres.conf and job_submit.lua lines Slurm needs to schedule by "
        "the slots of the servers marked 'slurm: slots' or 'slurm: follow'; changes nothing");
    sub->callback(
        [&globals, &runner] { runner = [&globals] { return run_slurm_config(globals); }; });
}

}  // namespace gpuslots::cli
