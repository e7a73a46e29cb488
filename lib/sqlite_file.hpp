// The SQLite ledger's file: its schema, how it is created and checked before SQLite opens it,
// and what its failures mean to the admin. Internal to lib/ (used by sqlite_store.cpp; the
// file's owner and filesystem, sqlite_store.hpp's check_write_access() and warnings(), are
// implemented in sqlite_file.cpp too).
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "gpuslots/error.hpp"
#include "sqlite_db.hpp"

namespace gpuslots::sqlite {

inline constexpr std::int64_t kApplicationId = 0x47505553;  // "GPUS"
inline constexpr std::int64_t kSchemaVersion = 5;
// The first schema that counts commits (table ledger_state).
inline constexpr std::int64_t kCountingSchema = 3;
// The first schema whose reservations record a boot id and an expiry.
inline constexpr std::int64_t kBootSchema = 4;
// The first schema that records which servers' plugin writes the ledger (table node_claims).
inline constexpr std::int64_t kClaimsSchema = 5;

// Maps a SQLite failure to the error class and a sentence the admin can act on.
Error to_error(const Failure& f, const std::string& path);

struct FileProbe {
    bool exists = false;
    struct stat st {};
};

// lstat(): a symbolic link is reported as one, never followed.
FileProbe probe(const std::string& path);

// Builds an empty ledger (0600, in directories made 0755) and its empty status snapshot, and
// links the ledger into place; one creator at a time, waiting for another until `deadline`
// (a concurrent creator's ledger is then used). Throws Failure.
void create_ledger_file(const std::string& path, std::chrono::steady_clock::time_point deadline);

// Refuses (Errc::ledger, saying why and what to do) a ledger whose directory or files others
// could write or replace: a directory writable by its group or everyone, or owned by someone
// other than root and the ledger's owner; a -wal or -shm of another owner or writable by
// others. With `may_change_modes` (root or the owner), files others can read are made 0600.
Result<void> check_ledger_files(const std::string& path, const struct stat& ledger,
                                bool may_change_modes);

// Checks the file header before SQLite sees the file: SQLite would treat a file cut short as
// merely smaller (and WAL recovery would then write into it), so a truncated ledger must be
// caught here to be reported without being changed. nullopt when the header is sound.
std::optional<std::string> header_problem(const std::string& path, off_t file_size);

// Brings a ledger from an older schema version (>= 1) to kSchemaVersion, in one write
// transaction: a crash leaves it at the old version, intact. Throws Failure.
void migrate(Connection& db, const std::string& path);

}  // namespace gpuslots::sqlite
