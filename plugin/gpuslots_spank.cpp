// gpuslots.so: the SPANK entry points. Each one gathers Slurm's values, calls the library
// (lib/gpuslots/slurm_job.hpp, where the failure semantics are written down), and maps the
// outcome to a return code and one log line. An exception firewall surrounds every entry
// point: nothing unwinds into srun, sbatch, slurmd or slurmstepd.
//
// Who runs what (Slurm 22.05):
//   srun/sbatch/salloc (local, allocator)  slurm_spank_init registers the options; their
//                                          callback validates a value at submission.
//   job_prolog / job_epilog (job_script)   a fresh process as root, per node; slurm_spank_init
//                                          is not called there, so the arguments are parsed
//                                          in each hook. Reserve / release.
//   slurmstepd (remote), as root           init_post_opt looks the reservation up (by the job
//                                          id from Slurm and the node name slurmstepd set in
//                                          its own environment) and sets CUDA_VISIBLE_DEVICES
//                                          & co. for every task of the step, batch included.
//   each task, as root, before exec        task_init_privileged fails the task of a refused
//                                          job, with the reason on the job's stderr.
// Why not fail in init_post_opt: srun then reports success, and a failed batch step drains
// the node ("batch job complete failure"). A failed task fails the job and nothing else.
extern "C" {
#include <slurm/spank.h>
}

#include <unistd.h>

#include <cstdio>
#include <exception>
#include <optional>
#include <string>

#include "spank_values.hpp"

#define GPUSLOTS_EXPORT __attribute__((visibility("default")))

extern "C" {
GPUSLOTS_EXPORT extern const char plugin_name[] = "gpuslots";
GPUSLOTS_EXPORT extern const char plugin_type[] = "spank";
GPUSLOTS_EXPORT extern const unsigned int plugin_version = SLURM_VERSION_NUMBER;
GPUSLOTS_EXPORT extern const unsigned int spank_plugin_version = 1;
}

namespace {

using namespace gpuslots;

// Set in slurmstepd by init_post_opt (root); read by task_init_privileged in the forked task,
// which inherits the stepd's memory. Never derived from anything the job's user controls.
std::optional<std::string> g_refusal;
std::optional<std::string> g_lookup_error;

template <typename Body>
int firewall(const char* hook, Body&& body) {
    try {
        return body();
    } catch (const std::exception& e) {
        spank::log_error(hook, std::string("internal error: ") + e.what());
    } catch (...) {
        spank::log_error(hook, "internal error");
    }
    return -1;
}

int init(spank_t sp, int ac, char** av) {
    auto args = spank::args_of(ac, av);
    if (!args) {
        spank::log_error("init", args.error().message);
        return -1;
    }
    const spank_context_t context = spank_context();
    if (context == S_CTX_LOCAL || context == S_CTX_ALLOCATOR || context == S_CTX_REMOTE) {
        spank::remember_submit_args(*args);
        for (int i : {spank::kGpuSlotsIndex, spank::kCpuSlotsIndex}) {
            const spank_err_t rc = spank_option_register(sp, &spank::kOptions[i]);
            if (rc != ESPANK_SUCCESS) {
                spank::log_error("init", std::string("cannot register --") +
                                             spank::kOptions[i].name + ": " + spank_strerror(rc));
                return -1;
            }
        }
    }
    return 0;
}

// Prolog and epilog return -1 only for a node fault: Slurm drains the node on it.
int job_script_hook(const char* hook, spank_t sp, int ac, char** av,
                    HookOutcome (*run)(const PluginArgs&, const SlurmJob&)) {
    auto args = spank::args_of(ac, av);
    if (!args) {
        spank::log_error(hook, args.error().message);
        return -1;
    }
    auto job = spank::job_of(sp);
    if (!job) {
        spank::log_error(hook, job.error().message);
        return -1;
    }
    const HookOutcome outcome = run(*args, *job);
    if (outcome.node_fault) {
        spank::log_error(hook, outcome.message + " (node fault: failing the " + hook + ")");
        return -1;
    }
    spank::log_info(hook, outcome.message);
    return 0;
}

HookOutcome prolog(const PluginArgs& args, const SlurmJob& job) {
    return job_prolog(args, job);
}

int step_setup(spank_t sp, int ac, char** av) {
    if (spank_context() != S_CTX_REMOTE) return 0;
    auto args = spank::args_of(ac, av);
    if (!args) {
        spank::log_error("init_post_opt", args.error().message);
        return -1;
    }
    auto job = spank::job_of(sp);
    if (!job) {
        spank::log_error("init_post_opt", job.error().message);
        return -1;
    }
    const StepEnvironment env = step_environment(*args, *job);
    for (const auto& [name, value] : env.variables) {
        const spank_err_t rc = spank_setenv(sp, name.c_str(), value.c_str(), 1);
        if (rc != ESPANK_SUCCESS) {
            spank::log_error("init_post_opt", "cannot set " + name + ": " + spank_strerror(rc));
            return -1;
        }
    }
    if (env.error) {
        spank::log_error("init_post_opt", env.message);
        g_lookup_error = "cannot read the gpuslots ledger on " + job->node + ": " + env.message;
    } else if (env.refusal) {
        g_refusal = *env.refusal;
        spank::log_info("init_post_opt", env.message);
    } else {
        spank::log_info("init_post_opt", env.message);
    }
    return 0;
}

// In the task, before exec, with its stdout/stderr in place: a refused job stops here and
// says why. Returning -1 makes slurmstepd end the task with exit code 1; the node is fine.
int task_refusal(spank_t sp) {
    std::optional<std::string> reason = g_refusal;
    if (!reason && g_lookup_error) {
        // A job that asked for slots cannot run without knowing them; others run, GPU-less.
        // (The option values can be read here, unlike in init_post_opt.)
        auto job = spank::job_of(sp);
        if (!job || job->asked_for_slots()) reason = g_lookup_error;
    }
    if (!reason) return 0;
    std::uint32_t id = 0;
    spank_get_item(sp, S_JOB_ID, &id);
    std::string line = "gpuslots: job " + std::to_string(id) + " cannot run: " + *reason + "\n";
    if (::write(STDERR_FILENO, line.data(), line.size()) < 0) {
        // Nowhere better to say it; the slurmd log has it from init_post_opt.
    }
    return -1;
}

}  // namespace

extern "C" {

GPUSLOTS_EXPORT int slurm_spank_init(spank_t sp, int ac, char** av) {
    return firewall("init", [&] { return init(sp, ac, av); });
}

GPUSLOTS_EXPORT int slurm_spank_init_post_opt(spank_t sp, int ac, char** av) {
    return firewall("init_post_opt", [&] { return step_setup(sp, ac, av); });
}

GPUSLOTS_EXPORT int slurm_spank_task_init_privileged(spank_t sp, int /*ac*/, char** /*av*/) {
    return firewall("task_init_privileged", [&] { return task_refusal(sp); });
}

GPUSLOTS_EXPORT int slurm_spank_job_prolog(spank_t sp, int ac, char** av) {
    return firewall("job_prolog",
                    [&] { return job_script_hook("job_prolog", sp, ac, av, prolog); });
}

GPUSLOTS_EXPORT int slurm_spank_job_epilog(spank_t sp, int ac, char** av) {
    return firewall("job_epilog",
                    [&] { return job_script_hook("job_epilog", sp, ac, av, job_epilog); });
}

}  // extern "C"
