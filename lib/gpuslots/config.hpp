// The YAML configuration, parsed once into a validated, typed Config. Every key is documented
// in etc/gpuslots.yaml. Parsing is strict: unknown keys, duplicate keys, wrong types and
// out-of-range values are errors that carry file:line:column, because a typo that silently
// fell back to a default would hand out GPUs that are not there.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gpuslots/error.hpp"

namespace gpuslots {

inline constexpr const char* kDefaultConfigPath = "/etc/gpuslots/gpuslots.yaml";
inline constexpr const char* kConfigEnvVar = "GPUSLOTS_CONFIG";

// The largest config file accepted: twice the largest sensible one (10,000 servers written one
// list entry each are about 0.5 MB; larger fleets are written as hostlist ranges). It bounds
// what every prolog reads and parses: yaml-cpp needs up to about 230 bytes of memory per byte of
// YAML.
inline constexpr std::size_t kMaxConfigBytes = 1024 * 1024;

// Sanity bounds on what one server may declare.
inline constexpr int kMaxGpusPerServer = 1024;
inline constexpr int kMaxCpusPerServer = 1 << 20;

// Whether Slurm's scheduler counts a server's slots, and how (README "Slurm schedules by the
// slots"). The admin tool books a manual reservation on a scheduled server through a holder
// job, so that Slurm counts it too; check-config compares these servers with slurmctld's view.
enum class SlurmMode {
    none,    // Slurm does not schedule this server's slots: manual bookings go to the ledger only
    slots,   // the count-only GRES gpuslots / cpuslots carry the slots
    follow,  // Slurm's own gres/gpu manages the GPUs (cpuslots the CPUs); gpuslots follows it
};
const char* slurm_mode_name(SlurmMode mode);

struct Server {
    std::string name;  // the Slurm node name
    int gpus = 0;
    int cpus = 0;
    SlurmMode slurm = SlurmMode::none;
};

// The servers of the configuration, in config order, with a name index.
class Fleet {
  public:
    Fleet() = default;
    // Errc::bad_input when a name appears twice.
    static Result<Fleet> from(std::vector<Server> servers);

    const std::vector<Server>& servers() const { return servers_; }
    std::size_t size() const { return servers_.size(); }
    // Position of `name` in config order, or nullopt when the server is not in the fleet.
    std::optional<std::size_t> find(std::string_view name) const;
    const Server* server(std::string_view name) const;

    int max_gpus() const { return max_gpus_; }
    int max_cpus() const { return max_cpus_; }

  private:
    std::vector<Server> servers_;
    std::unordered_map<std::string, std::size_t> index_;
    int max_gpus_ = 0;
    int max_cpus_ = 0;
};

// Inclusive bounds for one resource of one request.
struct Range {
    int min = 0;
    int max = 0;
    bool contains(int v) const { return v >= min && v <= max; }
};

enum class Durability {
    full,    // every commit is on disk before the call returns (survives a power cut)
    normal,  // commits survive a crash of the process, the last few may be lost on power loss
};

// The embedded SQLite store (state.backend: sqlite). YAML: state.path, state.durability,
// state.write_queue.
struct SqliteOptions {
    // Absolute; a relative path in the file is resolved against the file's directory.
    std::string path = "/var/lib/gpuslots/state.db";
    Durability durability = Durability::full;
    // Writers take turns through a queue in /dev/shm before SQLite's write lock (fair,
    // bounded waits); false leaves them to SQLite's lock alone.
    bool write_queue = true;
};

// The shared store on a MariaDB/MySQL server (state.backend: mariadb), one ledger for the whole
// cluster. YAML: state.mariadb.*. No credentials here: the config is readable by every user, so
// the connector reads them itself from MySQL option files ([client] group).
struct MariadbOptions {
    std::string host;    // empty: the option file's host, else the local socket
    unsigned port = 0;   // 0: the option file's, else 3306
    std::string socket;  // a Unix socket instead of host/port
    std::string database = "gpuslots";
    // The writers' account (prologs, epilogs, the admin tool as root): mode 0600, root's.
    std::string option_file = "/etc/gpuslots/db.cnf";
    // The read account for everyone else's `status`: readable by all; it may only run the
    // status procedure.
    std::string read_option_file = "/etc/gpuslots/db-read.cnf";
    // Bounds on every network wait, so that a prolog never hangs on an unreachable server.
    std::chrono::seconds connect_timeout{2};
    std::chrono::seconds read_timeout{5};
    std::chrono::seconds write_timeout{5};
};

// Where the ledger is kept: the backend, what every backend shares, and each backend's own
// options (a backend reads only its own; the others keep their defaults).
struct StateConfig {
    std::string backend = "sqlite";  // the store: "sqlite" or "mariadb"
    // How long one operation may wait for others (locks, turns, transient failures) before
    // it gives up with Errc::busy. YAML: state.busy_timeout_ms.
    std::chrono::milliseconds busy_timeout{10'000};
    SqliteOptions sqlite;
    MariadbOptions mariadb;
};

struct SlurmConfig {
    // How long job_prolog waits for slots that are taken before it gives up on the job.
    std::chrono::seconds prolog_wait{5};
    // A job without a GPU reservation gets an empty CUDA_VISIBLE_DEVICES (sees no GPU).
    bool hide_gpus_without_reservation = true;
    // Variables that receive the reserved GPU indices in every task's environment.
    std::vector<std::string> visible_devices_env{"CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES",
                                                 "ZE_AFFINITY_MASK", "GPU_DEVICE_ORDINAL"};
    // Directories the prolog and epilog keep in step with this node's Slurm reservations, one
    // file per reserved GPU (gpuslots/gpu_job_files.hpp); empty: off (the default).
    // YAML: slurm.dcgm_job_mapping_dir (dcgm-exporter --hpc-job-mapping-dir),
    // slurm.jobstats_dir (Princeton jobstats, /run/gpustat). Absolute paths.
    std::string dcgm_job_mapping_dir;
    std::string jobstats_dir;
};

// Manual reservations (the admin tool's allocate). YAML: manual.expire_after.
struct ManualConfig {
    // allocate without --for: the reservation lapses after this long, and `gpuslots
    // reconcile` releases it then. nullopt (the default): it never lapses.
    std::optional<std::chrono::seconds> expire_after;
};

struct Config {
    std::string source;  // the file it came from, for messages
    Fleet fleet;
    StateConfig state;
    Range gpus_per_request;  // default 1 .. largest server's GPUs
    Range cpus_per_request;  // default 0 .. largest server's CPUs
    SlurmConfig slurm;
    ManualConfig manual;
};

// Parses `text`, one YAML document of at most kMaxConfigBytes; `source` names the file in
// messages and anchors a relative state.path.
// Errors: Errc::config, message "FILE:LINE:COL: what was wrong; what was expected".
Result<Config> parse_config(std::string_view text, const std::string& source);

// Reads and parses the file, which must be a regular file (or a symlink to one) of at most
// kMaxConfigBytes. Errors: Errc::config (missing, unreadable, not a regular file, too large,
// invalid). `text`, when given, receives the bytes that were parsed (read once, from one open
// file), also when they were invalid.
Result<Config> load_config(const std::string& path, std::string* text = nullptr);

// The config file to use: `explicit_path` (from --config or plugstack `config=`) if given,
// else $GPUSLOTS_CONFIG if set and non-empty, else kDefaultConfigPath.
std::string resolve_config_path(const std::optional<std::string>& explicit_path);

}  // namespace gpuslots
