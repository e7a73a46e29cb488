// The submit side: srun (S_CTX_LOCAL), sbatch and salloc (S_CTX_ALLOCATOR), as the user.
// Registers --gpu-slots / --cpu-slots, refuses a bad value before any job exists, a hetjob
// component that Slurm would give another value than it asked for, and a step (srun inside an
// allocation) that asks for other slots than its job (gpuslots/submit_side.hpp).
// Nothing decided here is trusted later: the job_submit mapping and the prolog validate the
// value again.
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>

#include "contexts.hpp"
#include "gpuslots/slurm_job.hpp"
#include "gpuslots/submit_side.hpp"
#include "spank_values.hpp"

namespace gpuslots::submit {
namespace {

PluginArgs g_args;  // the plugstack arguments seen by init (the callback gets no handle)

std::optional<std::string> env_value(const std::string& name) {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
}

// Slurm's name for an option's value in a command's environment (entry.c reads it at init).
std::string replay_variable(spank::OptionIndex index) {
    return index == spank::kGpuSlotsIndex ? "SLURM_SPANK__SLURM_SPANK_OPTION_gpuslots_gpu_slots"
                                          : "SLURM_SPANK__SLURM_SPANK_OPTION_gpuslots_cpu_slots";
}

// Set by start(), before any callback or init_post_opt reaches the core.
std::optional<HetjobComponents> g_components[2];

HetjobComponents& components(spank::OptionIndex index) {
    return *g_components[index];
}

}  // namespace

// What slurm_spank_init saw, handed over by entry.c when the core is first needed (the first
// option callback, or invalid plugstack arguments); the options are registered already.
int start(const gpuslots_submit_start& start) {
    auto args = spank::args_of(start.ac, start.av);
    if (!args) {
        spank::log_error("init", args.error().message);
        return -1;
    }
    g_args = *args;
    for (spank::OptionIndex i : {spank::kGpuSlotsIndex, spank::kCpuSlotsIndex}) {
        const char* at_start = start.env_at_start[i];
        g_components[i].emplace(spank::option_name(i),
                                at_start ? std::optional<std::string>(at_start) : std::nullopt);
        // The components that ended before: no callback had run, so they carried nothing.
        for (int c = 0; c < start.components_done; ++c) {
            if (auto ok = g_components[i]->end_component(std::nullopt); !ok) {
                slurm_error("gpuslots: %s", ok.error().message.c_str());
                return -1;
            }
        }
    }
    return 0;
}

int on_option(int val, const char* optarg, int remote) {
    // In slurmstepd the value is not trusted anyway: the prolog and the step check it again.
    if (remote != 0) return 0;
    try {
        const auto index =
            val == spank::kGpuSlotsIndex ? spank::kGpuSlotsIndex : spank::kCpuSlotsIndex;
        const std::string value = optarg ? optarg : "";
        auto checked = check_option_value(g_args, spank::option_name(index), value);
        if (!checked) {
            slurm_error("gpuslots: %s", checked.error().message.c_str());
            return -1;
        }
        components(index).option_given(value);
        return 0;
    } catch (const std::exception& e) {
        slurm_error("gpuslots: option: internal error: %s", e.what());
    } catch (...) {
        slurm_error("gpuslots: option: internal error");
    }
    return -1;
}

// Once per hetjob component (once for an ordinary job), after its options.
int init_post_opt(spank_t /*sp*/, int /*ac*/, char** /*av*/) {
    // srun inside an allocation starts a step of it (srun's own rule: SLURM_JOB_ID is set).
    // In a hetjob allocation the job's variable holds one component's value only: no check.
    const auto job_id = env_value("SLURM_JOB_ID");
    const bool step = spank_context() == S_CTX_LOCAL && job_id && !env_value("SLURM_HET_SIZE");
    for (spank::OptionIndex i : {spank::kGpuSlotsIndex, spank::kCpuSlotsIndex}) {
        HetjobComponents& c = components(i);
        auto ok = c.end_component(env_value(replay_variable(i)));
        if (ok && step) {
            ok = check_step_option(spank::option_name(i), *job_id, c.env_at_start(), c.carried());
        }
        if (!ok) {
            slurm_error("gpuslots: %s", ok.error().message.c_str());
            return -1;
        }
    }
    return 0;
}

}  // namespace gpuslots::submit
