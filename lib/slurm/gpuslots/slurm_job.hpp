// What the SPANK plugin does for a Slurm job, without any Slurm header: the hooks in plugin/
// gather Slurm's values into a SlurmJob and call these functions, which are tested here.
//
// Failure semantics (README "What drains a node"):
//   - Only a ledger that cannot be read or written is a node fault: it fails job_prolog or
//     job_epilog, and Slurm drains the node (nothing on it can be trusted until an admin looks).
//   - A config that is unreadable or invalid is not a node fault (a config push must never
//     drain the fleet): the prolog logs it loudly and reserves nothing, and the job's tasks fail
//     with the config error (slurmstepd cannot read it either); the epilog releases from the
//     ledger its prolog recorded (gpuslots/job_record.hpp) without reading the config.
//   - A job's own problem (slots taken for longer than slurm.prolog_wait_seconds, a bad option
//     value, a node missing from the config, a ledger moved while jobs hold GPUs) never fails
//     the prolog: it is recorded as a refusal, and the job's tasks fail with that message when
//     they start. The node stays up.
//   - A ledger that cannot be used for a reason that is not the node's (ledger_outage(),
//     gpuslots/pending_release.hpp: its database does not answer within state.mariadb's
//     time-outs, or the option file's credentials or the schema are wrong) is not a node fault
//     either: the prolog refuses the job and keeps the refusal on the node (the step hooks read
//     it there), one loud line naming the server and what to check; the epilog keeps the
//     release on the node and it is applied, once, when the ledger answers. A job that Slurm's
//     gres/gpu gave GPUs without a gpuslots option runs on them, unrecorded.
//   - A job record that cannot be written (the record directory unsafe, /run full) is not a
//     node fault: the job is refused (a native gres/gpu job runs unrecorded), because a
//     reservation is never made without its record (the epilog's guarantee, and the step fast
//     path's: gpuslots/step_settings.h).
//   - job_epilog releases what the job held; a job that never reserved is not an error, and
//     one that asked for nothing and has no record is done without reading any file.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gpuslots/config.hpp"
#include "gpuslots/ledger.hpp"
#include "gpuslots/plugstack.hpp"

namespace gpuslots {

inline constexpr const char* kGpuOption = "gpu-slots";
inline constexpr const char* kCpuOption = "cpu-slots";

struct SlurmJob {
    std::string job_id;  // from Slurm (S_JOB_ID), never from the job's environment
    std::string node;    // this node's Slurm name, never from the job's environment
    std::uint32_t uid = 0;
    // The option values as the submitter gave them: untrusted, validated again here.
    std::optional<std::string> gpu_slots;
    std::optional<std::string> cpu_slots;
    // The GPUs Slurm's own gres/gpu gave the job on this node (gpuslots/slurm_gpus.hpp), if
    // any: SLURM_JOB_GPUS in the prolog (set by slurmd); in slurmstepd SLURM_STEP_GPUS or
    // SLURM_JOB_GPUS of the step's environment, which the user could set too, so there it only
    // decides whether Slurm's own variables are left alone, never which GPUs are reserved.
    std::optional<std::string> slurm_gpus;

    bool asked_for_slots() const { return gpu_slots.has_value() || cpu_slots.has_value(); }
};

struct SlotRequest {
    int gpus = 0;  // no --gpu-slots: 0
    int cpus = 0;  // no --cpu-slots: 0
};

// Validates the option values against config.requests. An absent option means 0 of that
// resource. Errors: bad_input naming the option and the allowed range.
Result<SlotRequest> requested_slots(const Config& config, const SlurmJob& job);

// Submit side (srun/sbatch/salloc option callback): checks one option value against the config
// the submit host sees. Errors: bad_input (value) or config (no usable config).
Result<void> check_option_value(const PluginArgs& args, const std::string& option,
                                const std::string& value);

struct HookOutcome {
    HookOutcome() = default;
    HookOutcome(bool fault, std::string line, bool loud_line = false)
        : node_fault(fault), message(std::move(line)), loud(loud_line) {}

    bool node_fault = false;  // the hook must fail (and Slurm will drain the node)
    std::string message;      // one line for the log, without the "gpuslots: <hook>: " prefix
    bool loud = false;        // log `message` as an error although the hook succeeds
    std::vector<std::string> notes;     // lines logged (info) before `message`
    std::vector<std::string> warnings;  // lines logged (error) before `message`
};

struct PrologTiming {
    std::chrono::milliseconds first_poll{50};
    std::chrono::milliseconds max_poll{500};
    std::function<void()> on_wait;  // called before each wait (tests observe the waiting)
};

// job_prolog: reserve the job's slots on this node, waiting up to slurm.prolog_wait_seconds
// for them. Does nothing (and reads no file) for a job that asked for no slots and was given
// no GPU by Slurm's gres/gpu. Where Slurm's gres/gpu gave the job GPUs, exactly those are
// reserved: a --gpu-slots that asks for another count is refused; a native job (no gpuslots
// option) is never refused or delayed: should the ledger hold its GPUs for someone else, the
// disagreement is logged and the job runs on Slurm's choice, unrecorded.
HookOutcome job_prolog(const PluginArgs& args, const SlurmJob& job, PrologTiming timing = {});

// job_epilog: release whatever the job holds on this node, and any refusal. Idempotent.
HookOutcome job_epilog(const PluginArgs& args, const SlurmJob& job);

// In slurmstepd, as root, before the tasks start: the environment the job's tasks get.
struct StepEnvironment {
    std::vector<std::pair<std::string, std::string>> variables;  // to set in the job env
    // Set when the job must not run here: its tasks fail with this message.
    std::optional<std::string> refusal;
    std::string message;                 // for the log
    bool error = false;                  // the ledger could not be read (message says why)
    std::optional<Reservation> held;     // the job's reservation on this node, if any
    std::optional<std::string> warning;  // one more line for the log (gpuslots/step_settings.hpp)
};
StepEnvironment step_environment(const PluginArgs& args, const SlurmJob& job);

// In each task of a step, before exec (task_init_privileged: in slurmstepd the step's own
// option values can be read only there): a step runs on its job's slots, which the prolog
// reserved from the job's values whatever a step asks. A step that asks for others (srun
// --gpu-slots=N inside an allocation) is refused rather than silently given the job's.
// `held`: StepEnvironment::held. Returns the reason to refuse, or nullopt.
std::optional<std::string> step_refusal(const PluginArgs& args, const SlurmJob& step,
                                        const std::optional<Reservation>& held);

}  // namespace gpuslots
