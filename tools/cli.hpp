// Shared pieces of the `gpuslots` admin tool: exit codes, error reporting, config loading and
// the write-permission check. One file per subcommand uses them; its output goes through
// json_writer.hpp (JSON) and text.hpp (text a person reads).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "gpuslots/config.hpp"
#include "gpuslots/error.hpp"
#include "gpuslots/ledger.hpp"

namespace gpuslots::cli {

// Documented in `gpuslots --help` and README.md; scripts rely on them.
enum ExitCode : int {
    kOk = 0,
    kInternal = 1,     // a bug: please report it with the message
    kBadInput = 2,     // wrong arguments or values; nothing was changed
    kUnavailable = 3,  // does not fit now, not found, or already exists; nothing was changed
    kUnusable = 4,     // the config, the ledger or Slurm cannot be used (missing, invalid, damaged,
                       // busy, or Slurm set up otherwise than the config says)
    kDenied = 5,       // not allowed: only root or the ledger's owner may change the ledger
};

inline constexpr const char* kExitCodeHelp =
    "Exit codes:\n"
    "  0  success\n"
    "  1  internal error (a bug; please report it)\n"
    "  2  bad input: wrong arguments or values; nothing was changed\n"
    "  3  does not fit, not found, or already exists; nothing was changed\n"
    "  4  config or ledger unusable (missing, invalid, damaged, locked too long), or Slurm\n"
    "     unreachable or set up otherwise than the config says\n"
    "  5  permission denied: only root or the ledger's owner may change the ledger\n";

int exit_code_for(Errc code);

// Prints "gpuslots: <message>" on stderr and returns the exit code for the error.
int report(const Error& error);

struct Globals {
    std::optional<std::string> config_path;
};

// The subcommand to run once the command line has been parsed; returns the exit code.
using Runner = std::function<int()>;

Result<Config> load(const Globals& globals);

// Errc::permission unless the caller may change the ledger (check_write_access, storage.hpp).
// Also prints the store's warnings (a ledger file on a network filesystem).
Result<void> require_write_access(const Config& config);

// Opens the ledger after checking the caller may write it.
Result<std::unique_ptr<Ledger>> open_for_writing(const Config& config);

// The uid recorded as a manual reservation's owner: the invoking user, or the user behind
// sudo when root runs the tool through sudo.
std::uint32_t requesting_uid();

const std::string& user_name(std::uint32_t uid);
std::string join_ints(const std::vector<int>& v, std::string_view separator = ",");

// GPU indices as the result lines show them: "[0,1]", or "none". In brackets, so that in
// "GPUs [0,1] and 4 CPUs" the list cannot be read into the CPU count.
std::string gpu_list(const std::vector<int>& gpus);

void setup_status(CLI::App& app, const Globals& globals, Runner& runner);
void setup_allocate(CLI::App& app, const Globals& globals, Runner& runner);
void setup_release(CLI::App& app, const Globals& globals, Runner& runner);
void setup_reset(CLI::App& app, const Globals& globals, Runner& runner);
void setup_check_config(CLI::App& app, const Globals& globals, Runner& runner);
void setup_slurm_config(CLI::App& app, const Globals& globals, Runner& runner);
void setup_db(CLI::App& app, const Globals& globals, Runner& runner);
void setup_reconcile(CLI::App& app, const Globals& globals, Runner& runner);
void setup_metrics(CLI::App& app, const Globals& globals, Runner& runner);
void setup_gpu_job_files(CLI::App& app, const Globals& globals, Runner& runner);

}  // namespace gpuslots::cli
