// gpuslots reset [--yes]: release every reservation. Asks on a terminal; refuses elsewhere
// without --yes, so a script cannot wipe the ledger by accident.
#include <unistd.h>

#include <iostream>
#include <string>

#include "cli.hpp"
#include "gpuslots/slurm_controller.hpp"
#include "gpuslots/storage.hpp"
#include "text.hpp"

namespace gpuslots::cli {
namespace {

struct ResetOptions {
    bool yes = false;
};

int run_reset(const ResetOptions& o, const Globals& globals) {
    auto config = load(globals);
    if (!config) return report(config.error());
    // Refuse before touching anything: not even a new, empty ledger is created.
    if (!o.yes && ::isatty(STDIN_FILENO) == 0) {
        return report(make_error(Errc::bad_input,
                                 "reset: not on a terminal; pass --yes to release every "
                                 "reservation in {}",
                                 ledger_location(config->state)));
    }
    auto ledger = open_for_writing(*config);
    if (!ledger) return report(ledger.error());
    if (!o.yes) {
        auto current = (*ledger)->reservations();
        if (!current) return report(current.error());
        std::fputs(tr("Release all {} reservation(s) in {}? Type 'yes' to confirm: ",
                      current->size(), ledger_location(config->state))
                       .c_str(),
                   stderr);
        std::fflush(stderr);
        std::string answer;
        if (!std::getline(std::cin, answer) || answer != "yes") {
            return report(make_error(Errc::bad_input, "reset: not confirmed; nothing changed"));
        }
    }
    // root may release anything; anyone else (the ledger's owner) only what they reserved.
    std::optional<std::uint32_t> owner;
    if (::geteuid() != 0) owner = requesting_uid();
    auto count = (*ledger)->reset(owner);
    if (!count) return report(count.error());
    say("reset: released {} reservation(s) in {}\n", *count, ledger_location(config->state));
    // Manual bookings on servers Slurm schedules hold Slurm jobs (allocate.cpp): cancel them.
    bool scheduled = false;
    for (const auto& s : config->fleet.servers())
        scheduled |= s.slurm != SlurmMode::none;
    if (!scheduled || ::geteuid() != 0) return kOk;
    const SlurmController slurm;
    auto holders = slurm.holders(std::nullopt);
    std::vector<std::string> ids;
    if (holders) {
        for (const auto& job : *holders)
            ids.push_back(job.id);
    }
    auto cancelled = holders ? slurm.cancel(ids) : Result<void>(holders.error());
    if (!cancelled) {
        return report(make_error(Errc::config,
                                 "the ledger is reset, but the holder jobs of manual bookings "
                                 "could not be cancelled: {}; cancel them with 'scancel "
                                 "--user=root --name=...' (squeue -u root shows them as {}*)",
                                 cancelled.error().message, kHolderPrefix));
    }
    if (!ids.empty()) say("reset: cancelled holder job(s) {}\n", fmt::join(ids, " "));
    return kOk;
}

}  // namespace

void setup_reset(CLI::App& app, const Globals& globals, Runner& runner) {
    auto o = std::make_shared<ResetOptions>();
    CLI::App* sub =
        app.add_subcommand("reset", "Release every reservation (asks first on a terminal)");
    sub->add_flag("--yes", o->yes, "Do not ask; required when not on a terminal");
    sub->callback(
        [o, &globals, &runner] { runner = [o, &globals] { return run_reset(*o, globals); }; });
}

}  // namespace gpuslots::cli
