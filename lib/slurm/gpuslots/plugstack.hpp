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
    // record_dir=DIR: where job_prolog keeps what job_epilog needs (gpuslots/job_record.hpp);
    // else kDefaultRecordDir.
    std::optional<std::string> record_dir;
};

// Errors: Errc::config, e.g. "plugstack.conf: unknown argument 'conf=/x' (allowed:
// config=FILE, record_dir=DIR)".
Result<PluginArgs> parse_plugin_args(const std::vector<std::string>& args);

}  // namespace gpuslots
