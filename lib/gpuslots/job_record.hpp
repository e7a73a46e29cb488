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

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gpuslots/config.hpp"
#include "gpuslots/error.hpp"
#include "gpuslots/reservation.hpp"

namespace gpuslots {

inline constexpr const char* kDefaultRecordDir = "/run/gpuslots";

struct JobRecord {
    std::string node;
    std::string job_id;
    std::string config_source;  // the config the prolog read, for messages
    StateConfig state;          // the ledger it reserved in
    // The reservation it made there (nullopt: none, or the prolog could not say): a release
    // kept on the node applies to exactly this one (origin, id, server, time, GPUs, CPUs).
    std::optional<Reservation> held;
};

// A release that job_epilog could not apply because the ledger could not be used for a reason
// that is not the node's (gpuslots/pending_release.hpp): kept on the node, durably, until the
// ledger answers again.
struct PendingRelease {
    JobRecord record;             // the job and node, the ledger, the reservation if known
    std::int64_t since_unix = 0;  // when the epilog kept it: a reservation of the same job id
                                  // made later is another job's (Slurm reuses ids)
    std::string why;              // the error that kept it, one line
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

    // Written under a temporary name and renamed into place (a process that dies leaves the
    // old record or the new one, whole), not synced: a crash of the node ends the jobs whose
    // records it could lose, and the reboot rule releases what they held (job_record.cpp,
    // replace()). Replaces an older one.
    Result<void> write(const JobRecord& record) const;
    // nullopt: there is none. Errors: one that cannot be read or is not a record.
    Result<std::optional<JobRecord>> read(const std::string& node, const std::string& job_id) const;
    // No record is not an error.
    Result<void> remove(const std::string& node, const std::string& job_id) const;
    // Every record of `node` (of every node when nullopt) that can be read (the others are
    // skipped).
    std::vector<JobRecord> on_node(const std::optional<std::string>& node) const;

    // Releases kept by epilogs ("<node>+<job>.release" beside the records), written durably
    // (synced, renamed into place, the directory synced): once it returns, only a crash of the
    // node's disk can lose it. One per job and node; write_pending() replaces an older one.
    Result<void> write_pending(const PendingRelease& pending) const;
    Result<void> remove_pending(const std::string& node, const std::string& job_id) const;
    // Those of `node` (of every node when nullopt), oldest first; `unreadable` (when given)
    // gets one line per file that is not a whole entry (kept, for an admin to look at).
    std::vector<PendingRelease> pending(const std::optional<std::string>& node,
                                        std::vector<std::string>* unreadable = nullptr) const;

    // A job the prolog refused without a ledger to record the refusal in (it could not be
    // reached): the step hooks read the reason here ("<node>+<job>.refused").
    Result<void> write_refusal(const std::string& node, const std::string& job_id,
                               const std::string& reason) const;
    std::optional<std::string> refusal(const std::string& node, const std::string& job_id) const;
    Result<void> remove_refusal(const std::string& node, const std::string& job_id) const;

    const std::string& path() const { return dir_; }

  private:
    explicit RecordDir(std::string dir) : dir_(std::move(dir)) {}
    Result<void> replace(const std::string& name, const std::string& bytes, bool durable) const;
    Result<void> unlink(const std::string& name) const;
    std::string dir_;  // "" for a directory that does not exist (open_existing)
};

// The records (of `node`, or of every node) whose job still holds a reservation on its node in
// a ledger other than the one `config` names: while one does, two ledgers could hand out the
// same GPUs there. Records whose job holds nothing in its ledger any more are stale: removed
// with `remove_stale`, skipped either way. A ledger that cannot be read counts as holding.
std::vector<JobRecord> held_in_other_ledgers(const Config& config, const RecordDir& records,
                                             const std::optional<std::string>& node,
                                             bool remove_stale);

// The records' file format, exposed for the tests.
std::string encode_record(const JobRecord& record);
std::optional<JobRecord> decode_record(const std::string& text);
std::string encode_pending(const PendingRelease& pending);
std::optional<PendingRelease> decode_pending(const std::string& text);

}  // namespace gpuslots
