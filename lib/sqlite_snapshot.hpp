// The SQLite ledger's status snapshot: what `gpuslots status` shows, published by the writers
// for everyone who may not open the ledger itself. Internal to lib/.
//
// Why: a process that can open SQLite's files can take the file locks that SQLite's writers
// need (a read lock on a byte of the -shm file stalls every writer; an open read transaction
// keeps the WAL from being reset). So the ledger, its -wal and its -shm are for root and the
// ledger's owner only (0600), and everyone else reads this snapshot, which no writer ever
// locks or waits for.
//
// What: a directory beside the ledger, "<ledger>.status/" (0755, the ledger owner's), with
//   - one file per server that has held anything, "s.<name>" (0644): that server's
//     reservations as of one commit. A writer rewrites the files of the servers its commit
//     changed, in place (with a checksum that a reader racing the write sees fail, and reads
//     again: it never takes a lock; no fsync, as it is derived data). So a commit costs one
//     small write per server it touched, whatever the size of the fleet.
//   - "head" (0644): the number of the last commit published. Its presence says the snapshot
//     is complete (every server that holds anything has its file). It is also the ledger's
//     witness: the ledger counts its commits in its own rows, and a ledger whose count is
//     behind its head has lost commits (a damaged or deleted -wal, an older copy put in place).
//   - "claims" (0644): the servers whose plugin writes this ledger (it is their node's own:
//     Ledger::authority), absent while there are none. Replaced whole, when it changes.
//   - "lock" (0600): writers take it (flock) from just before COMMIT until their files are in
//     place, so files are published in commit order. Only root and the owner can open it.
//   - ".new-ledger": what a creator is building, under the lock (a killed one leaves it to the
//     next, who starts by removing it).
// A reader sees each server as of some recent commit: a moment old at most, consistent per
// server (not one instant for the whole fleet).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gpuslots/config.hpp"
#include "gpuslots/reservation.hpp"
#include "gpuslots/store.hpp"

namespace gpuslots::sqlite {

// "<ledger>.status".
std::string snapshot_dir(const std::string& ledger_path);

// A reservation with the ledger's row id (rows are listed in id order: oldest first).
struct Row {
    std::int64_t id = 0;
    Reservation r;
};

// One server's rows, as a commit left them.
struct ServerRows {
    std::string server;
    std::vector<Row> rows;
};

// The writers' side, for root and the ledger's owner. Throws Failure (sqlite_db.hpp) on
// errors that stop the caller (the directory cannot be made); publishing after a commit never
// throws (see publish()).
class Publisher {
  public:
    // The snapshot of the ledger at `ledger_path`, whose files belong to `owner`/`group` (root
    // gives what it creates to them). Creates the directory and the lock file when missing.
    Publisher(const std::string& ledger_path, std::uint32_t owner, std::uint32_t group);
    ~Publisher();
    Publisher(const Publisher&) = delete;
    Publisher& operator=(const Publisher&) = delete;

    // Takes the lock; false when `deadline` passes first (a live writer holds it that long).
    bool lock(std::chrono::steady_clock::time_point deadline);
    void unlock();
    // Under the lock: the head's commit, nullopt when there is none (never published, or its
    // record is unreadable).
    std::optional<std::int64_t> head() const;
    // Under the lock, after a commit: replaces the files of `servers` and sets the head to
    // `commit`. Best effort: the commit stands whatever happens here, so a failure (a full
    // disk) leaves those files and the head as they were, and the next writer, who finds the
    // head behind the ledger, republishes everything (republish()).
    void publish(std::int64_t commit, const std::vector<ServerRows>& servers) noexcept;
    // Under the lock: makes the snapshot exactly `all` (every server that holds anything) at
    // `commit`; files that already say the same are left alone. Returns false on a failure.
    bool republish(std::int64_t commit, const std::vector<ServerRows>& all) noexcept;
    // Under the lock: makes the "claims" file say `servers` (the ledger's node claims,
    // Store::claims), unless it already does. Returns false on a failure (best effort, as
    // publish(): check-config as root writes it again).
    bool publish_claims(const std::vector<std::string>& servers) noexcept;
    // Under the lock: removes what an earlier, killed creator or writer left (the fixed
    // temporary names, and "<ledger>.new-<pid>" files of processes that are gone).
    void remove_leftovers() noexcept;
    // Where a creator builds a new ledger (under the lock), and its -wal/-shm beside it.
    std::string new_ledger_path() const;

  private:
    bool write_server(const ServerRows& server) noexcept;
    bool write_head(std::int64_t commit) noexcept;
    std::string ledger_;
    std::string dir_;
    int dir_fd_ = -1;
    int lock_fd_ = -1;
    std::uint32_t owner_;
    std::uint32_t group_;
    bool locked_ = false;
};

// The head's commit as any process reads it (no lock: the record checks itself), nullopt
// when there is none.
std::optional<std::int64_t> read_head(const std::string& ledger_path);

// The claims as any process reads them: empty when there is no "claims" file; nullopt when
// it cannot be read or is damaged.
std::optional<std::vector<std::string>> read_claims(const std::string& ledger_path);

// The readers' side: a read-only Store over the snapshot of the ledger at config.state.sqlite
// .path, for users who may not open the ledger. Errors: ledger (no snapshot yet; a snapshot
// directory that others can write; a file that cannot be read).
Result<std::unique_ptr<Store>> open_snapshot_store(const Config& config);

}  // namespace gpuslots::sqlite
