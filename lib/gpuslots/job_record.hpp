// What job_prolog keeps for job_epilog, per job and node: the ledger it reserved in (backend
// and location, with the options needed to open it) and the config it read. With it, the
// epilog releases a job's slots from the ledger its prolog used, without reading the config:
// a config pushed meanwhile (invalid, unreadable, or naming another ledger) can neither make
// the epilog fail (drain the node) nor leave the job's GPUs reserved for good.
//
// Where: one file per job in a directory only root may write (default kDefaultRecordDir,
// plugstack.conf record_dir=DIR). /run is emptied at boot; what a record would have released
// then is the reboot rule's (Ledger::release_before_boot). The records of one node also tell
// which ledgers hold its live reservations (a prolog refuses to reserve in another one).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gpuslots/config.hpp"
#include "gpuslots/error.hpp"

namespace gpuslots {

inline constexpr const char* kDefaultRecordDir = "/run/gpuslots";

struct JobRecord {
    std::string node;
    std::string job_id;
    std::string config_source;  // the config the prolog read, for messages
    StateConfig state;          // the ledger it reserved in
};

// A Config that opens `record.state` (no servers: enough to release and to look up).
Config config_of(const JobRecord& record);

// The records of `dir`: it is created (0700) when missing; one that others may write, or that
// belongs to someone other than this process's user, is refused (a record names the ledger
// root writes to). Errors: Errc::ledger, saying which directory and what to do.
class RecordDir {
  public:
    static Result<RecordDir> open(const std::string& dir);
    // Reads an existing directory without creating it; a missing one holds no records.
    static Result<RecordDir> open_existing(const std::string& dir);

    // Durably (written under a temporary name, synced, renamed into place, the directory
    // synced): once it returns, a crash cannot lose the record. Replaces an older one.
    Result<void> write(const JobRecord& record) const;
    // nullopt: there is none. Errors: one that cannot be read or is not a record.
    Result<std::optional<JobRecord>> read(const std::string& node, const std::string& job_id) const;
    // No record is not an error.
    Result<void> remove(const std::string& node, const std::string& job_id) const;
    // Every record of `node` that can be read (the others are skipped).
    std::vector<JobRecord> on_node(const std::string& node) const;

    const std::string& path() const { return dir_; }

  private:
    explicit RecordDir(std::string dir) : dir_(std::move(dir)) {}
    std::string dir_;  // "" for a directory that does not exist (open_existing)
};

// The records' file format, exposed for the tests.
std::string encode_record(const JobRecord& record);
std::optional<JobRecord> decode_record(const std::string& text);

}  // namespace gpuslots
