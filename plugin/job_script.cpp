// job_prolog and job_epilog (S_CTX_JOB_SCRIPT): a fresh process as root on each node of the
// job. slurm_spank_init is not called here, so the plugstack arguments are parsed in each hook.
// The rules, and what is a node fault, are in gpuslots/slurm_job.hpp; this file only gathers
// Slurm's values and maps the outcome: -1 (Slurm drains the node) for a node fault only.
#include "contexts.hpp"
#include "spank_values.hpp"

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
    if (outcome.node_fault) {
        spank::log_error(hook, outcome.message + " (node fault: failing the " + hook + ")");
        return -1;
    }
    spank::log_info(hook, outcome.message);
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

}  // namespace gpuslots::job_script
