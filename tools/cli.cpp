#include "cli.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <unordered_map>

#include "gpuslots/request.hpp"
#include "gpuslots/storage.hpp"
#include "text.hpp"

namespace gpuslots::cli {

int exit_code_for(Errc code) {
    switch (code) {
        case Errc::bad_input:
            return kBadInput;
        case Errc::no_fit:
        case Errc::not_found:
        case Errc::conflict:
            return kUnavailable;
        case Errc::config:
        case Errc::ledger:
        case Errc::busy:
        case Errc::unreachable:
            return kUnusable;
        case Errc::permission:
            return kDenied;
        case Errc::internal:
            return kInternal;
    }
    return kInternal;
}

int report(const Error& error) {
    fmt::print(stderr, "gpuslots: {}\n", error.message);
    return exit_code_for(error.code);
}

Result<Config> load(const Globals& globals) {
    return load_config(resolve_config_path(globals.config_path));
}

Result<void> require_write_access(const Config& config) {
    for (const auto& warning : storage_warnings(config))
        warn("{}", warning);
    return check_write_access(config, static_cast<std::uint32_t>(::geteuid()));
}

Result<std::unique_ptr<Ledger>> open_for_writing(const Config& config) {
    if (auto allowed = require_write_access(config); !allowed) return allowed.error();
    return open_ledger(config, Ledger::Access::read_write);
}

std::uint32_t requesting_uid() {
    const uid_t uid = ::getuid();
    if (uid == 0) {
        if (const char* sudo = std::getenv("SUDO_UID")) {
            char* end = nullptr;
            const unsigned long v = std::strtoul(sudo, &end, 10);
            if (end != sudo && *end == '\0' && v <= UINT32_MAX)
                return static_cast<std::uint32_t>(v);
        }
    }
    return static_cast<std::uint32_t>(uid);
}

const std::string& user_name(std::uint32_t uid) {
    static std::unordered_map<std::uint32_t, std::string> cache;
    auto it = cache.find(uid);
    if (it != cache.end()) return it->second;
    std::string name = std::to_string(uid);
    if (const passwd* pw = ::getpwuid(static_cast<uid_t>(uid))) name = pw->pw_name;
    return cache.emplace(uid, std::move(name)).first->second;
}

std::string join_ints(const std::vector<int>& v, std::string_view separator) {
    return fmt::format("{}", fmt::join(v, separator));
}

std::string gpu_list(const std::vector<int>& gpus) {
    return gpus.empty() ? tr("none") : fmt::format("[{}]", fmt::join(gpus, ","));
}

}  // namespace gpuslots::cli
