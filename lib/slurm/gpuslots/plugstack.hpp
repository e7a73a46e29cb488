// The plugin's arguments from its plugstack.conf line, e.g.
//   required /usr/lib/x86_64-linux-gnu/slurm/gpuslots.so config=/etc/gpuslots/gpuslots.yaml
// Strict: an unknown key, a key given twice or a value-less word is an error, because a typo
// here would otherwise make every node silently use the default config.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gpuslots/error.hpp"

namespace gpuslots {

struct PluginArgs {
    std::optional<std::string> config;  // config=FILE; else $GPUSLOTS_CONFIG, else the default
};

// Errors: Errc::config, e.g. "plugstack.conf: unknown argument 'conf=/x' (allowed: config=FILE)".
Result<PluginArgs> parse_plugin_args(const std::vector<std::string>& args);

}  // namespace gpuslots
