// job_prolog and job_epilog (S_CTX_JOB_SCRIPT): a fresh process as root on each node of the
// job. slurm_spank_init is not called here, so the plugstack arguments are parsed in each hook.
// The rules, and what is a node fault, are in gpuslots/slurm_job.hpp; this file only gathers
// Slurm's values and maps the outcome: -1 (Slurm drains the node) for a node fault only.
//
// slurmd (S_CTX_SLURMD) at its start: the reboot rule on this node (gpuslots/slurm_recovery.hpp);
// it never fails slurmd's start.
#include "contexts.hpp"
#include "spank_values.hpp"

#include "gpuslots/slurm_recovery.hpp"

namespace gpuslots::job_script {
namespace {

int run_hook(const char* hook, spank_t sp, int ac, char** av,
             HookOutcome (*rule)(const PluginArgs&, const SlurmJob&)) {
    auto args = spank::args_of(ac, av);
    if (!args) {
        spank::log_error(hook, args.error().message + " (node fault: failing the " + hook + ")");
        return -1;
    }
    auto job = spank::job_of(sp);
    if (!job) {
        spank::log_error(hook, job.error().message + " (node fault: failing the " + hook + ")");
        return -1;
    }
    const HookOutcome outcome = rule(*args, *job);
    for (const auto& line : outcome.warnings)
        spank::log_error(hook, line);
    for (const auto& line : outcome.notes)
        spank::log_info(hook, line);
    if (outcome.node_fault) {
        spank::log_error(hook, outcome.message + " (node fault: failing the " + hook + ")");
        return -1;
    }
    if (outcome.loud) {
        spank::log_error(hook, outcome.message);
    } else {
        spank::log_info(hook, outcome.message);
    }
    return 0;
}

HookOutcome prolog_rule(const PluginArgs& args, const SlurmJob& job) {
    return job_prolog(args, job);
}

}  // namespace

int prolog(spank_t sp, int ac, char** av) {
    return run_hook("job_prolog", sp, ac, av, prolog_rule);
}

int epilog(spank_t sp, int ac, char** av) {
    return run_hook("job_epilog", sp, ac, av, job_epilog);
}

int slurmd_init(int ac, char** av) {
    auto args = spank::args_of(ac, av);
    if (!args) {
        spank::log_error("slurmd", args.error().message);
        return 0;
    }
    const std::string node = spank::node_name();
    if (node.empty()) {
        spank::log_error("slurmd", "cannot tell this node's name; the reboot rule is skipped");
        return 0;
    }
    const StartOutcome out = slurmd_start(*args, node);
    for (std::size_t i = 0; i < out.lines.size(); ++i) {
        if (out.error && i + 1 == out.lines.size()) {
            spank::log_error("slurmd", out.lines[i]);
        } else {
            spank::log_info("slurmd", out.lines[i]);
        }
    }
    return 0;
}

}  // namespace gpuslots::job_script
