// The core's side of the step settings: what lets slurmstepd start a step of a job that holds
// nothing here without loading the core (gpuslots/step_settings.h says when the entry object
// may use them, and why that is safe).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "gpuslots/config.hpp"
#include "gpuslots/error.hpp"
#include "gpuslots/plugstack.hpp"

namespace gpuslots {

// The config the plugin's hooks read (plugstack config=, else $GPUSLOTS_CONFIG, else the
// default); once read, the step settings in the record directory are brought up to date
// from it for `node` (best effort: they are a cache, and every reason not to write them only
// costs the steps the core's load).
Result<Config> load_plugin_config(const PluginArgs& args, const std::string& node);

// The settings file's text for the config at `path` whose bytes were `text`; nullopt when the
// entry object could not hold them (too many or too long variable names, a path with a line
// break).
std::optional<std::string> encode_step_settings(const std::string& path, std::string_view text,
                                                const SlurmConfig& slurm);

// Writes the settings for the config at `path`, parsed from `text`, into `record_dir`
// (created 0700 when missing, as RecordDir does) unless the file holds them already. Before
// writing, `all_recorded()` must say that every Slurm reservation on the node has its file
// in `record_dir`; when it does not, the settings there are removed. Returns whether the
// file holds them afterwards.
bool publish_step_settings(const std::string& record_dir, const std::string& path,
                           std::string_view text, const SlurmConfig& slurm,
                           const std::function<bool()>& all_recorded);

}  // namespace gpuslots
