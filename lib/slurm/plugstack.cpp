#include "gpuslots/plugstack.hpp"

namespace gpuslots {

// plugin/entry.c (plain_args) checks the same rule in C: a change here goes there too.
Result<PluginArgs> parse_plugin_args(const std::vector<std::string>& args) {
    PluginArgs out;
    for (const auto& arg : args) {
        const auto eq = arg.find('=');
        const std::string key = arg.substr(0, eq);
        std::optional<std::string>* slot = nullptr;
        if (eq != std::string::npos && key == "config") slot = &out.config;
        if (eq != std::string::npos && key == "record_dir") slot = &out.record_dir;
        if (slot == nullptr) {
            return make_error(Errc::config,
                              "plugstack.conf: unknown argument {} (allowed: config=FILE, "
                              "record_dir=DIR)",
                              in_quotes(arg, 200));
        }
        if (slot->has_value()) {
            return make_error(Errc::config, "plugstack.conf: '{}=' is given twice", key);
        }
        const std::string value = arg.substr(eq + 1);
        if (value.empty() || value.front() != '/') {
            return make_error(Errc::config, "plugstack.conf: {}= needs an absolute path, got {}",
                              key, in_quotes(value, 200));
        }
        *slot = value;
    }
    return out;
}

}  // namespace gpuslots
