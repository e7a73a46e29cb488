// gpuslots-core.so: the hooks, and nothing else. Slurm loads gpuslots.so (entry.c), which loads
// this core only where a hook has work for the job and calls it through the table at the end
// (core_abi.h); a hook added here needs its forwarder in entry.c. Each one switches on the
// context it runs in and hands over to that context's file:
//
//   context           who, as whom                     file          what
//   S_CTX_LOCAL       srun, the user                   submit.cpp    register the options, check
//   S_CTX_ALLOCATOR   sbatch / salloc, the user        submit.cpp    their values and each
//                                                                    hetjob component's
//   S_CTX_JOB_SCRIPT  job_prolog / job_epilog, root,   job_script.cpp  reserve / release on
//                     a fresh process per node                         this node
//   S_CTX_REMOTE      slurmstepd, root (init,          slurmstepd.cpp  hand the step its GPUs;
//                     init_post_opt,                                   fail a refused job's
//                     task_init_privileged)                            tasks
//   S_CTX_SLURMD      slurmd itself, root, at start    job_script.cpp  release this node's jobs
//                                                                      of an earlier boot
//
// What each hook returns when it fails, and why (Slurm 22.05; see slurm-lab's findings in the
// README). The same value is returned when an exception reaches the firewall below: nothing
// ever unwinds into Slurm.
//
//   hook                   context           on failure  what Slurm does with it
//   init                   local, allocator  -1          srun/sbatch/salloc stop before any job
//                                                        exists (bad plugstack arguments: a
//                                                        required plugin must not be ignored)
//   init                   slurmd            0           never stop slurmd from starting: the
//                                                        reboot rule only logs what it could not do
//   init                   remote            0           -1 would fail the step's launch, and
//                                                        for a batch step drain the node; the
//                                                        step hooks fail closed instead
//   init_post_opt          local, allocator  -1          the command stops, no job is queued
//                                                        (a hetjob component whose slots Slurm
//                                                        would carry differently than asked)
//   init_post_opt          remote            0           -1 fails the batch step, which drains
//                                                        the node ("batch job complete
//                                                        failure"); so the step is handed no
//                                                        GPU and task_init_privileged fails it
//   task_init_privileged   remote            -1          this task exits 1 before exec: the job
//                                                        fails, the node stays in service
//   job_prolog             job_script        -1          drains the node, requeues-and-holds a
//                                                        batch job: only for a node fault
//   job_epilog             job_script        -1          drains the node: only for a node fault
//                                                        (a release that may have been lost)
// A job's own problem never reaches a -1 in job_script or remote context: lib/slurm records it
// and the job's tasks fail with the reason (gpuslots/slurm_job.hpp).
extern "C" {
#include <slurm/spank.h>
}

#include <exception>
#include <new>
#include <string>

#include "contexts.hpp"
#include "core_abi.h"
#include "spank_values.hpp"

// The hooks below keep Slurm's names but stay inside the core (core.map exports only the
// table): entry.c's hooks of the same names are the ones Slurm calls.
#define GPUSLOTS_EXPORT __attribute__((visibility("default")))

namespace {

using namespace gpuslots;

// The documented failure values of the table above.
constexpr int kStopCommand = -1;  // submit side: nothing is queued
constexpr int kKeepStep = 0;      // slurmstepd: never fail the step itself
constexpr int kFailTask = -1;     // one task, before exec
constexpr int kNodeFault = -1;    // job_script: Slurm drains the node

// Logs why a hook failed; a second exception (no memory for the line) is swallowed, since
// nothing may unwind into Slurm.
void log_failure(const char* hook, const char* why, const char* detail = nullptr) noexcept {
    try {
        spank::log_error(hook, detail ? std::string(why) + ": " + detail : std::string(why));
    } catch (...) {
    }
}

// Runs body; when an exception escapes it, logs it and returns recover(why).
template <typename Body, typename Recover>
int firewall_with(const char* hook, Recover&& recover, Body&& body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        log_failure(hook, "out of memory");
        return recover("out of memory");
    } catch (const std::exception& e) {
        log_failure(hook, "internal error", e.what());
        return recover("internal error");
    } catch (...) {
        log_failure(hook, "internal error");
        return recover("internal error");
    }
}

template <typename Body>
int firewall(const char* hook, int on_failure, Body&& body) noexcept {
    return firewall_with(
        hook, [on_failure](const char*) noexcept { return on_failure; }, body);
}

bool submit_side(spank_context_t context) {
    return context == S_CTX_LOCAL || context == S_CTX_ALLOCATOR;
}

}  // namespace

extern "C" {

// The submit side's init: entry.c registered the options and hands over what init saw.
int submit_start(const gpuslots_submit_start* start) {
    return firewall("init", kStopCommand, [&] { return submit::start(*start); });
}

int on_option(int val, const char* value, int remote) {
    return submit::on_option(val, value, remote);  // it has its own firewall
}

void attach(const gpuslots_core_host* host) {
    spank::kOptions = host->options;
}

int slurm_spank_init(spank_t sp, int ac, char** av) {
    switch (spank_context()) {
        case S_CTX_REMOTE:
            return firewall("init", kKeepStep, [&] { return stepd::init(sp, ac, av); });
        case S_CTX_SLURMD:
            return firewall("slurmd", 0, [&] { return job_script::slurmd_init(ac, av); });
        default:
            return 0;  // job_script never calls init
    }
}

int slurm_spank_init_post_opt(spank_t sp, int ac, char** av) {
    const spank_context_t context = spank_context();
    if (submit_side(context)) {
        return firewall("init_post_opt", kStopCommand,
                        [&] { return submit::init_post_opt(sp, ac, av); });
    }
    if (context == S_CTX_REMOTE) {
        // Returning kKeepStep alone would leave the step whatever CUDA_VISIBLE_DEVICES it had:
        // fail closed, as init_post_opt itself does for every error it knows.
        return firewall_with(
            "init_post_opt",
            [sp](const char* why) noexcept { return stepd::init_post_opt_failed(sp, why); },
            [&] { return stepd::init_post_opt(sp, ac, av); });
    }
    return 0;
}

int slurm_spank_task_init_privileged(spank_t sp, int /*ac*/, char** /*av*/) {
    if (spank_context() != S_CTX_REMOTE) return 0;
    return firewall("task_init_privileged", kFailTask,
                    [&] { return stepd::task_init_privileged(sp); });
}

int slurm_spank_job_prolog(spank_t sp, int ac, char** av) {
    return firewall("job_prolog", kNodeFault, [&] { return job_script::prolog(sp, ac, av); });
}

int slurm_spank_job_epilog(spank_t sp, int ac, char** av) {
    return firewall("job_epilog", kNodeFault, [&] { return job_script::epilog(sp, ac, av); });
}

GPUSLOTS_EXPORT extern const gpuslots_core gpuslots_core_v1 = {
    GPUSLOTS_CORE_ABI,
    GPUSLOTS_VERSION,
    attach,
    slurm_spank_init,
    submit_start,
    on_option,
    slurm_spank_init_post_opt,
    slurm_spank_task_init_privileged,
    slurm_spank_job_prolog,
    slurm_spank_job_epilog,
};

}  // extern "C"
