// slurmstepd (S_CTX_REMOTE), the step's privileged hooks, as root:
//   init                  reports invalid plugstack arguments (entry.c registers the options)
//   init_post_opt         looks this job's reservation up on this node (by the job id from
//                         Slurm and the node name slurmstepd set in its own environment, never
//                         anything the user controls) and sets CUDA_VISIBLE_DEVICES & co. for
//                         every task of the step, the batch script included
//   task_init_privileged  in each task, before exec, with its stdout/stderr in place: a job
//                         that was refused (or a step that asks for other slots than its job
//                         holds) stops here and says why
// Why not fail in init_post_opt itself: srun then reports success, and a failed batch step
// drains the node ("batch job complete failure"). A failed task fails the job and nothing else.
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>

#include "contexts.hpp"
#include "spank_values.hpp"

namespace gpuslots::stepd {
namespace {

// Set by init_post_opt; read by task_init_privileged in the forked task, which inherits the
// stepd's memory. Never derived from anything the job's user controls.
std::optional<std::string> g_refusal;
std::optional<std::string> g_lookup_error;
std::optional<PluginArgs> g_args;
std::optional<Reservation> g_held;  // the job's reservation on this node
// Set when init_post_opt could not finish (an exception reached the firewall); a plain flag,
// so that setting it cannot fail.
bool g_unfinished = false;

// A step of a hetjob carries one value per option for all its components (the last
// component's: srun keeps one value per command), so its values say nothing about what each
// component's job holds. Each component's reservation was made from its own job's values;
// the step check is skipped. (Read from the job's environment, which the user could set: it
// can only skip a refusal, never hand out other GPUs.)
bool heterogeneous_step(spank_t sp) {
    char value[32] = {};
    return spank_getenv(sp, "SLURM_HET_SIZE", value, sizeof value) == ESPANK_SUCCESS;
}

void fail_closed(spank_t sp, const std::string& why) {
    spank::log_error("init_post_opt", why);
    g_lookup_error = why;
    // Without the site's list (the config may be what failed), hide under the defaults.
    for (const auto& name : SlurmConfig{}.visible_devices_env)
        spank_setenv(sp, name.c_str(), "", 1);
}

}  // namespace

int init(spank_t /*sp*/, int ac, char** av) {
    // Called only for arguments that entry.c found invalid (it registered the options for the
    // others): they are reported here, and by init_post_opt, which fails closed.
    if (auto args = spank::args_of(ac, av); !args) spank::log_error("init", args.error().message);
    return 0;
}

int init_post_opt(spank_t sp, int ac, char** av) {
    auto args = spank::args_of(ac, av);
    if (!args) {
        fail_closed(sp, args.error().message);
        return 0;
    }
    auto job = spank::job_of(sp);
    if (!job) {
        fail_closed(sp, job.error().message);
        return 0;
    }
    g_args = *args;
    const StepEnvironment env = step_environment(*args, *job);
    g_held = env.held;
    for (const auto& [name, value] : env.variables) {
        const spank_err_t rc = spank_setenv(sp, name.c_str(), value.c_str(), 1);
        if (rc != ESPANK_SUCCESS) {
            fail_closed(sp, "cannot set " + name + ": " + spank_strerror(rc));
            return 0;
        }
    }
    if (env.warning) spank::log_error("init_post_opt", *env.warning);
    if (env.error) {
        spank::log_error("init_post_opt", env.message);
        g_lookup_error =
            "gpuslots cannot look up this job's slots on " + job->node + ": " + env.message;
    } else if (env.refusal) {
        g_refusal = *env.refusal;
        spank::log_info("init_post_opt", env.message);
    } else {
        spank::log_info("init_post_opt", env.message);
    }
    return 0;
}

int init_post_opt_failed(spank_t sp, const char* why) noexcept {
    g_unfinished = true;
    try {
        fail_closed(sp, std::string("cannot look this job's GPUs up: ") + why);
    } catch (...) {
        // Not even the defaults could be built: hide the one variable every CUDA program reads.
        spank_setenv(sp, "CUDA_VISIBLE_DEVICES", "", 1);
    }
    return 0;
}

int task_init_privileged(spank_t sp) {
    std::optional<std::string> reason = g_refusal;
    if (!reason && g_unfinished && !g_lookup_error) {
        g_lookup_error = "internal error while looking this job's GPUs up (see slurmd's log)";
    }
    if (!reason) {
        // The step's own option values can be read here, unlike in init_post_opt.
        auto step = spank::job_of(sp);
        if (g_lookup_error) {
            // A job that asked for slots cannot run without knowing them; others run, GPU-less.
            if (!step || step->asked_for_slots()) reason = g_lookup_error;
        } else if (!step) {
            reason = step.error().message;
        } else if (g_args && !heterogeneous_step(sp)) {
            reason = step_refusal(*g_args, *step, g_held);
            if (reason)
                spank::log_info("task_init_privileged", "job " + step->job_id + ": " + *reason);
        }
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

}  // namespace gpuslots::stepd
