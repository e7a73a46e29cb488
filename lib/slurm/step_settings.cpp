#include "gpuslots/step_settings.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "gpuslots/atomic_file.hpp"
#include "gpuslots/job_record.hpp"
#include "gpuslots/ledger.hpp"
#include "gpuslots/slurm_recovery.hpp"
#include "gpuslots/step_settings.h"
#include "gpuslots/version.hpp"

namespace gpuslots {

// The entry object resolves the config and the record directory without the C++ side, and
// reads no config the core would refuse as too large.
static_assert(std::string_view(GPUSLOTS_STEP_DEFAULT_CONFIG) == kDefaultConfigPath);
static_assert(std::string_view(GPUSLOTS_STEP_DEFAULT_RECORD_DIR) == kDefaultRecordDir);
static_assert(GPUSLOTS_STEP_CONFIG_MAX_BYTES == kMaxConfigBytes);

namespace {

std::string settings_path(const std::string& record_dir) {
    return record_dir + "/" + GPUSLOTS_STEP_SETTINGS_FILE;
}

// What is in the settings file now ("" when there is none, or it cannot be read).
std::string current_text(const std::string& record_dir) {
    const int fd =
        ::open(settings_path(record_dir).c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return {};
    std::string text(GPUSLOTS_STEP_SETTINGS_MAX_BYTES + 1, '\0');
    const ssize_t n = ::read(fd, text.data(), text.size());
    ::close(fd);
    text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return text;
}

// The first Slurm reservation of `node` in `ledger` without its file in `record_dir` ("" when
// the ledger cannot be read: nothing can be vouched for), nullopt when every one has its file.
std::optional<std::string> unrecorded_on(Ledger& ledger, const std::string& record_dir,
                                         const std::string& node) {
    auto held = ledger.reservations_on(node);
    if (!held) return std::string();
    for (const Reservation& r : *held) {
        if (r.origin != Origin::slurm) continue;
        if (gpuslots_step_job_has_files(record_dir.c_str(), node.c_str(), r.task_id.c_str()) != 1)
            return r.task_id;
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> encode_step_settings(const std::string& path, std::string_view text,
                                                const SlurmConfig& slurm) {
    if (path.find('\n') != std::string::npos) return std::nullopt;
    if (slurm.visible_devices_env.size() > GPUSLOTS_STEP_SETTINGS_MAX_VARS) return std::nullopt;
    std::string out = fmt::format("{}\nversion {}\nconfig {}\ncontent {} {:016x}\nhide {}\n",
                                  GPUSLOTS_STEP_SETTINGS_MAGIC, version_line(), path, text.size(),
                                  gpuslots_step_hash(text.data(), text.size()),
                                  slurm.hide_gpus_without_reservation ? 1 : 0);
    for (const std::string& name : slurm.visible_devices_env) {
        if (name.empty() || name.size() >= GPUSLOTS_STEP_SETTINGS_MAX_NAME ||
            name.find_first_of(" \n") != std::string::npos) {
            return std::nullopt;
        }
        out += "env " + name + "\n";
    }
    out += "end\n";
    if (out.size() > GPUSLOTS_STEP_SETTINGS_MAX_BYTES) return std::nullopt;
    return out;
}

std::optional<std::string> publish_step_settings(
    const std::string& record_dir, const std::string& path, std::string_view text,
    const SlurmConfig& slurm, const std::function<std::optional<std::string>()>& unrecorded) {
    const auto settings = encode_step_settings(path, text, slurm);
    if (!settings) return std::nullopt;
    if (!RecordDir::open(record_dir)) return std::nullopt;  // as the records are checked
    const std::string current = current_text(record_dir);
    if (auto job = unrecorded()) {
        if (current.empty()) return std::nullopt;
        if (::unlink(settings_path(record_dir).c_str()) != 0) return std::nullopt;
        return fmt::format(
            "step settings {} removed: {}; steps of jobs without slots load the core until "
            "every Slurm reservation on this node has its job record in {} again",
            settings_path(record_dir),
            job->empty() ? std::string("the ledger could not be read to check them")
                         : fmt::format("job {} holds slots here but has no job record", *job),
            record_dir);
    }
    if (current != *settings)
        (void)replace_file(record_dir, GPUSLOTS_STEP_SETTINGS_FILE, *settings);
    return std::nullopt;
}

std::optional<std::string> publish_step_settings(const PluginArgs& args, const PluginConfig& read,
                                                 const Config& config, Ledger& ledger,
                                                 const std::string& node) {
    const std::string dir = record_dir_of(args);
    return publish_step_settings(dir, read.path, read.text, config.slurm,
                                 [&] { return unrecorded_on(ledger, dir, node); });
}

Result<Config> load_plugin_config(const PluginArgs& args, PluginConfig* read) {
    PluginConfig local;
    PluginConfig& out = read != nullptr ? *read : local;
    out.path = resolve_config_path(args.config);
    return load_config(out.path, &out.text);
}

}  // namespace gpuslots
