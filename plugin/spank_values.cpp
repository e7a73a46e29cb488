#include "spank_values.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <vector>

#include "contexts.hpp"

namespace gpuslots::spank {

struct spank_option* kOptions = nullptr;

const char* option_name(OptionIndex index) {
    return index == kGpuSlotsIndex ? kGpuOption : kCpuOption;
}

Result<PluginArgs> args_of(int ac, char** av) {
    std::vector<std::string> args;
    for (int i = 0; i < ac; ++i)
        args.emplace_back(av[i]);
    return parse_plugin_args(args);
}

namespace {

std::optional<std::string> option_value(spank_t sp, OptionIndex index) {
    char* value = nullptr;
    if (spank_option_getopt(sp, &kOptions[index], &value) != ESPANK_SUCCESS) return std::nullopt;
    return std::string(value != nullptr ? value : "");
}

// slurmd's own -N NAME (it may run several on one host, one per name), from its command line.
std::string nodename_argument() {
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    std::vector<std::string> argv;
    std::string arg;
    while (std::getline(in, arg, '\0'))
        argv.push_back(arg);
    for (std::size_t i = 1; i < argv.size(); ++i) {
        if (argv[i] == "-N" && i + 1 < argv.size()) return argv[i + 1];
        if (argv[i].rfind("-N", 0) == 0 && argv[i].size() > 2) return argv[i].substr(2);
    }
    return {};
}

// The GPUs Slurm's own gres/gpu gave the job here: in the prolog from this process's
// environment (slurmd's), in slurmstepd from the step's (see SlurmJob::slurm_gpus).
std::optional<std::string> slurm_gpus(spank_t sp) {
    if (spank_context() == S_CTX_JOB_SCRIPT) {
        const char* v = std::getenv("SLURM_JOB_GPUS");
        return v != nullptr ? std::optional<std::string>(v) : std::nullopt;
    }
    char value[4096] = {};
    for (const char* name : {"SLURM_STEP_GPUS", "SLURM_JOB_GPUS"}) {
        if (spank_getenv(sp, name, value, sizeof value) == ESPANK_SUCCESS)
            return std::string(value);
    }
    return std::nullopt;
}

}  // namespace

std::string node_name() {
    // slurmd exports its node name (it may run several, one per -N name) to the processes it
    // starts; the job's environment is a different array, reached only with spank_getenv().
    if (const char* n = std::getenv("SLURMD_NODENAME"); n != nullptr && *n != '\0') return n;
    if (spank_context() == S_CTX_SLURMD) {
        if (std::string n = nodename_argument(); !n.empty()) return n;
    }
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) return {};
    std::string name = host;
    return name.substr(0, name.find('.'));
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
    job.slurm_gpus = slurm_gpus(sp);
    return job;
}

void log_info(const char* hook, const std::string& message) {
    slurm_info("gpuslots: %s: %s", hook, message.c_str());
}

void log_error(const char* hook, const std::string& message) {
    slurm_error("gpuslots: %s: %s", hook, message.c_str());
}

}  // namespace gpuslots::spank
