#include "gpuslots/plugstack.hpp"

namespace gpuslots {

Result<PluginArgs> parse_plugin_args(const std::vector<std::string>& args) {
    PluginArgs out;
    for (const auto& arg : args) {
        const auto eq = arg.find('=');
        const std::string key = arg.substr(0, eq);
        if (eq == std::string::npos || key != "config") {
            return make_error(Errc::config,
                              "plugstack.conf: unknown argument {} (allowed: config=FILE)",
                              in_quotes(arg, 200));
        }
        if (out.config) {
            return make_error(Errc::config, "plugstack.conf: 'config=' is given twice");
        }
        const std::string value = arg.substr(eq + 1);
        if (value.empty() || value.front() != '/') {
            return make_error(Errc::config,
                              "plugstack.conf: config= needs an absolute path, got {}",
                              in_quotes(value, 200));
        }
        out.config = value;
    }
    return out;
}

}  // namespace gpuslots
