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
#include "gpuslots/ledger.hpp"
#include "gpuslots/plugstack.hpp"

namespace gpuslots {

// The config the plugin's hooks read (plugstack config=, else $GPUSLOTS_CONFIG, else the
// default), with the bytes it was parsed from.
struct PluginConfig {
    std::string path;
    std::string text;
};
Result<Config> load_plugin_config(const PluginArgs& args, PluginConfig* read = nullptr);

// The settings file's text for the config at `path` whose bytes were `text`; nullopt when the
// entry object could not hold them (too many or too long variable names, a path with a line
// break).
std::optional<std::string> encode_step_settings(const std::string& path, std::string_view text,
                                                const SlurmConfig& slurm);

// Brings the settings in `record_dir` (created 0700 when missing, as RecordDir does) up to
// date for the config at `path`, parsed from `text`: written, unless the file holds them
// already, while `all_recorded()` says that every Slurm reservation on the node has its file
// in `record_dir`; removed when it says otherwise. Returns a line to log when settings were
// removed for that reason (nullopt otherwise: written, current, or not writable here).
std::optional<std::string> publish_step_settings(
    const std::string& record_dir, const std::string& path, std::string_view text,
    const SlurmConfig& slurm, const std::function<std::optional<std::string>()>& unrecorded);

// The same from a hook that has the node's ledger open: the check reads the node's Slurm
// reservations from `ledger` and looks for each one's file in the record directory.
std::optional<std::string> publish_step_settings(const PluginArgs& args, const PluginConfig& read,
                                                 const Config& config, Ledger& ledger,
                                                 const std::string& node);

}  // namespace gpuslots
