// What slurmctld knows, asked through Slurm's own commands (see gpuslots/command.hpp for why
// not libslurm): the nodes and their GRES, the settings gpuslots depends on, the jobs, and the
// holder jobs that stand for manual bookings on servers Slurm schedules. Used by the admin
// tool (check-config, allocate, release, reset) and meant for any later comparison of the
// ledger with Slurm's jobs. Parsers are separate functions, tested on recorded output.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gpuslots/error.hpp"

namespace gpuslots {

// One record of `scontrol -o show ...`: its key=value fields in order.
using SlurmRecord = std::vector<std::pair<std::string, std::string>>;

// Splits `scontrol -o` output (one record per line) into fields. A value may contain spaces
// (OS=Linux 6.1 #1 SMP ...): a word without '=' continues the previous value.
std::vector<SlurmRecord> parse_scontrol_records(std::string_view text);
// The first value of `key` in `record`, if present.
std::optional<std::string> field(const SlurmRecord& record, std::string_view key);

// A Gres= string ("gpu:a100:4(S:0-1),gpuslots:4,cpuslots:64", or "(null)") as counts by GRES
// name, types summed. Errors: bad_input naming the part that is not NAME[:TYPE]:COUNT.
Result<std::map<std::string, long long>> parse_gres(std::string_view text);

// `scontrol show config` ("Key   = Value" lines) as a map.
std::map<std::string, std::string> parse_show_config(std::string_view text);

// A comma list of Slurm's ("Alloc,Contain", "(null)" or empty: nothing).
std::vector<std::string> split_list(std::string_view text);

struct SlurmNodeInfo {
    std::string name;
    std::string state;                      // "IDLE", "MIXED+DRAIN", ...
    std::vector<std::string> partitions;    // Partitions=
    std::map<std::string, long long> gres;  // configured GRES by name, e.g. {"gpuslots", 4}
};

struct SlurmSettings {  // from `scontrol show config`
    std::string version;
    std::vector<std::string> gres_types;
    std::vector<std::string> prolog_flags;
    std::vector<std::string> job_submit_plugins;
    std::vector<std::string> private_data;  // "jobs": others' jobs are hidden from users
};

struct SlurmJobInfo {
    std::string id;
    std::string name;
    std::string state;  // "RUNNING", "PENDING", ...
    std::uint32_t user_id = 0;
    std::string nodes;  // a hostlist, "" while pending
};

// Whether this host has a Slurm configuration to reach slurmctld with ($SLURM_CONF, the
// packaged /etc/slurm/slurm.conf, or slurmd's configless cache): without one, Slurm's
// commands would look for slurmctld in DNS, which can take seconds to fail.
bool slurm_configured();

// Whether the job_submit mapping is active in slurmctld, found by a probe that submits
// nothing (sbatch --test-only asking for the slot GRES itself, which only the mapping refuses).
enum class MappingState { active, inactive };

// A holder job: an allocation without a shell (salloc --no-shell) that makes Slurm count a
// manual booking's slots on one node, named kHolderPrefix + task id.
inline constexpr std::string_view kHolderPrefix = "gpuslots-hold:";

// Whether `job` is a live holder job of `task_id` (any task's, when nullopt): root's, named
// kHolderPrefix + task id, pending or running.
bool is_holder_of(const SlurmJobInfo& job, const std::optional<std::string>& task_id);

struct HolderRequest {
    std::string task_id;
    std::string node;
    std::string gres;               // "gres:gpuslots:2,gres:cpuslots:4"
    std::chrono::seconds wait{10};  // how long Slurm may take to find room
};

struct Holder {
    std::string job_id;
    std::string node;
    std::vector<int> gpus;  // the GPU indices Slurm's gres/gpu gave it (follow mode), else empty
};

class SlurmController {
  public:
    // `timeout` bounds every command (a hung slurmctld must not hang the tool).
    explicit SlurmController(std::chrono::milliseconds timeout = std::chrono::seconds(30))
        : timeout_(timeout) {}

    // Errors for all: config (Slurm's commands are not installed here, or one failed: its
    // message is passed on), busy (slurmctld did not answer in time).
    Result<std::vector<SlurmNodeInfo>> nodes() const;
    Result<SlurmSettings> settings() const;
    Result<std::vector<SlurmJobInfo>> jobs() const;
    Result<MappingState> mapping() const;

    // Asks Slurm for a holder job and waits up to request.wait for it to start. Errors:
    // no_fit (Slurm has no room on the node now), bad_input (Slurm can never satisfy it, e.g.
    // more than the node has), permission, config, busy.
    Result<Holder> hold(const HolderRequest& request) const;
    // The holder jobs of `task_id` (all of them, when nullopt), as slurmctld lists them.
    Result<std::vector<SlurmJobInfo>> holders(const std::optional<std::string>& task_id) const;
    // Cancels jobs by id. Errors: config (scancel failed), busy.
    Result<void> cancel(const std::vector<std::string>& job_ids) const;

  private:
    std::chrono::milliseconds timeout_;
};

// The GPU indices in a `scontrol show job -d` GRES line ("gpu:2(IDX:0-1)" -> 0,1), for `node`.
std::vector<int> parse_gpu_indices(std::string_view show_job_detail, std::string_view node);

}  // namespace gpuslots
