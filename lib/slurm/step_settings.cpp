#include "gpuslots/step_settings.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "gpuslots/atomic_file.hpp"
#include "gpuslots/job_record.hpp"
#include "gpuslots/slurm_recovery.hpp"
#include "gpuslots/step_settings.h"
#include "gpuslots/version.hpp"

namespace gpuslots {

// The entry object resolves the config and the record directory without the C++ side.
static_assert(std::string_view(GPUSLOTS_STEP_DEFAULT_CONFIG) == kDefaultConfigPath);
static_assert(std::string_view(GPUSLOTS_STEP_DEFAULT_RECORD_DIR) == kDefaultRecordDir);

namespace {

bool same_file(const struct stat& a, const struct stat& b) {
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
           a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
           a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

// What is in the settings file now ("" when there is none, or it cannot be read).
std::string current_text(const std::string& record_dir) {
    const std::string path = record_dir + "/" + GPUSLOTS_STEP_SETTINGS_FILE;
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return {};
    std::string text(GPUSLOTS_STEP_SETTINGS_MAX_BYTES + 1, '\0');
    const ssize_t n = ::read(fd, text.data(), text.size());
    ::close(fd);
    text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return text;
}

}  // namespace

std::optional<std::string> encode_step_settings(const std::string& path, const struct stat& st,
                                                const SlurmConfig& slurm) {
    if (path.find('\n') != std::string::npos) return std::nullopt;
    if (slurm.visible_devices_env.size() > GPUSLOTS_STEP_SETTINGS_MAX_VARS) return std::nullopt;
    std::string text = fmt::format(
        "{}\nversion {}\nconfig {}\nfile {} {} {} {} {} {} {}\nhide {}\n",
        GPUSLOTS_STEP_SETTINGS_MAGIC, version_line(), path, static_cast<std::uintmax_t>(st.st_dev),
        static_cast<std::uintmax_t>(st.st_ino), static_cast<std::intmax_t>(st.st_size),
        static_cast<std::intmax_t>(st.st_mtim.tv_sec), static_cast<long>(st.st_mtim.tv_nsec),
        static_cast<std::intmax_t>(st.st_ctim.tv_sec), static_cast<long>(st.st_ctim.tv_nsec),
        slurm.hide_gpus_without_reservation ? 1 : 0);
    for (const std::string& name : slurm.visible_devices_env) {
        if (name.empty() || name.size() >= GPUSLOTS_STEP_SETTINGS_MAX_NAME ||
            name.find_first_of(" \n") != std::string::npos) {
            return std::nullopt;
        }
        text += "env " + name + "\n";
    }
    text += "end\n";
    if (text.size() > GPUSLOTS_STEP_SETTINGS_MAX_BYTES) return std::nullopt;
    return text;
}

bool publish_step_settings(const std::string& record_dir, const std::string& path,
                           const struct stat& before, const SlurmConfig& slurm, std::time_t now) {
    struct stat after {};
    if (::stat(path.c_str(), &after) != 0 || !same_file(before, after)) return false;
    const std::time_t settled = now - GPUSLOTS_STEP_SETTINGS_SETTLE_SECONDS;
    if (after.st_ctim.tv_sec >= settled || after.st_mtim.tv_sec >= settled) return false;
    const auto text = encode_step_settings(path, after, slurm);
    if (!text) return false;
    if (!RecordDir::open(record_dir)) return false;  // created, or checked as the records are
    if (current_text(record_dir) == *text) return true;
    return replace_file(record_dir, GPUSLOTS_STEP_SETTINGS_FILE, *text).ok();
}

Result<void> withdraw_step_settings(const std::string& record_dir) {
    const std::string path = record_dir + "/" + GPUSLOTS_STEP_SETTINGS_FILE;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return make_error(Errc::ledger, "cannot remove {}: {}", path, std::strerror(errno));
    }
    return {};
}

Result<Config> load_plugin_config(const PluginArgs& args) {
    const std::string path = resolve_config_path(args.config);
    struct stat before {};
    const bool identified = ::stat(path.c_str(), &before) == 0;
    auto config = load_config(path);
    if (config && identified) {
        (void)publish_step_settings(record_dir_of(args), path, before, config->slurm,
                                    std::time(nullptr));
    }
    return config;
}

}  // namespace gpuslots
