// The core's side of the step settings: what lets slurmstepd start a step of a job that holds
// nothing here without loading the core (gpuslots/step_settings.h says when the entry object
// may use them, and why that is safe).
#pragma once

#include <sys/stat.h>

#include <ctime>
#include <optional>
#include <string>

#include "gpuslots/config.hpp"
#include "gpuslots/error.hpp"
#include "gpuslots/plugstack.hpp"

namespace gpuslots {

// The config the plugin's hooks read (plugstack config=, else $GPUSLOTS_CONFIG, else the
// default); once read, the step settings in the record directory are brought up to date
// from it (best effort: they are a cache, and every reason not to write them only costs the
// steps the core's load).
Result<Config> load_plugin_config(const PluginArgs& args);

// The settings file's text for `slurm`, read from `path` whose identity (stat) was `st`;
// nullopt when the entry object could not hold them (too many or too long variable names, a
// path with a line break).
std::optional<std::string> encode_step_settings(const std::string& path, const struct stat& st,
                                                const SlurmConfig& slurm);

// Writes the settings for the config at `path`, which had the identity `before` when it was
// read, into `record_dir` (created 0700 when missing, as RecordDir does), unless the file
// holds them already. Nothing is written when the config file has changed since `before`,
// or changed less than GPUSLOTS_STEP_SETTINGS_SETTLE_SECONDS before `now` (an edit in the same
// clock tick would not change its times). Returns whether the file holds them afterwards.
bool publish_step_settings(const std::string& record_dir, const std::string& path,
                           const struct stat& before, const SlurmConfig& slurm, std::time_t now);

// Removes the settings (the steps then load the core); no file is not an error.
Result<void> withdraw_step_settings(const std::string& record_dir);

}  // namespace gpuslots
