#include "spank_values.hpp"

#include <unistd.h>

#include <cstdlib>
#include <vector>

namespace gpuslots::spank {
namespace {

int on_option(int val, const char* optarg, int remote);

}  // namespace

struct spank_option kOptions[] = {
    {const_cast<char*>(kGpuOption), const_cast<char*>("N"),
     const_cast<char*>("Reserve N GPU slots on each node of the job (gpuslots); the job sees "
                       "exactly those GPUs"),
     1, kGpuSlotsIndex, on_option},
    {const_cast<char*>(kCpuOption), const_cast<char*>("N"),
     const_cast<char*>("Reserve N CPU slots on each node of the job (gpuslots)"), 1, kCpuSlotsIndex,
     on_option},
    SPANK_OPTIONS_TABLE_END,
};

Result<PluginArgs> args_of(int ac, char** av) {
    std::vector<std::string> args;
    for (int i = 0; i < ac; ++i)
        args.emplace_back(av[i]);
    return parse_plugin_args(args);
}

namespace {

PluginArgs g_submit_args;  // the plugstack arguments seen by slurm_spank_init on the submit side

// Submit side (srun, sbatch, salloc): refuse a bad value before any job exists. In
// slurmstepd (remote) the value is not trusted anyway: the prolog validates it again.
int on_option(int val, const char* optarg, int remote) {
    if (remote != 0) return 0;
    try {
        const std::string option = val == kGpuSlotsIndex ? kGpuOption : kCpuOption;
        auto checked = check_option_value(g_submit_args, option, optarg ? optarg : "");
        if (!checked) {
            slurm_error("gpuslots: %s", checked.error().message.c_str());
            return -1;
        }
        return 0;
    } catch (const std::exception& e) {
        slurm_error("gpuslots: option: internal error: %s", e.what());
    } catch (...) {
        slurm_error("gpuslots: option: internal error");
    }
    return -1;
}

std::optional<std::string> option_value(spank_t sp, OptionIndex index) {
    char* value = nullptr;
    if (spank_option_getopt(sp, &kOptions[index], &value) != ESPANK_SUCCESS) return std::nullopt;
    return std::string(value != nullptr ? value : "");
}

std::string node_name() {
    // slurmd exports its node name (it may run several, one per -N name) to the processes it
    // starts; the job's environment is a different array, reached only with spank_getenv().
    if (const char* n = std::getenv("SLURMD_NODENAME"); n != nullptr && *n != '\0') return n;
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) return {};
    std::string name = host;
    return name.substr(0, name.find('.'));
}

}  // namespace

void remember_submit_args(const PluginArgs& args) {
    g_submit_args = args;
}

Result<SlurmJob> job_of(spank_t sp) {
    SlurmJob job;
    std::uint32_t id = 0;
    if (spank_get_item(sp, S_JOB_ID, &id) != ESPANK_SUCCESS) {
        return make_error(Errc::internal, "Slurm gave no job id");
    }
    job.job_id = std::to_string(id);
    uid_t uid = 0;
    if (spank_get_item(sp, S_JOB_UID, &uid) == ESPANK_SUCCESS) {
        job.uid = static_cast<std::uint32_t>(uid);
    }
    job.node = node_name();
    if (job.node.empty()) return make_error(Errc::internal, "cannot tell this node's name");
    job.gpu_slots = option_value(sp, kGpuSlotsIndex);
    job.cpu_slots = option_value(sp, kCpuSlotsIndex);
    return job;
}

void log_info(const char* hook, const std::string& message) {
    slurm_info("gpuslots: %s: %s", hook, message.c_str());
}

void log_error(const char* hook, const std::string& message) {
    slurm_error("gpuslots: %s: %s", hook, message.c_str());
}

}  // namespace gpuslots::spank
