// The SQLite ledger's file: its schema, how it is created and checked before SQLite opens it,
// and what its failures mean to the admin. Internal to lib/ (used by sqlite_store.cpp; the
// file's owner and filesystem, sqlite_store.hpp's check_write_access() and warnings(), are
// implemented in sqlite_file.cpp too).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>

#include "gpuslots/error.hpp"
#include "sqlite_db.hpp"

namespace gpuslots::sqlite {

inline constexpr std::int64_t kApplicationId = 0x47505553;  // "GPUS"
inline constexpr std::int64_t kSchemaVersion = 2;

// Maps a SQLite failure to the error class and a sentence the admin can act on.
Error to_error(const Failure& f, const std::string& path);

struct FileProbe {
    bool exists = false;
    struct stat st {};
};

// lstat(): a symbolic link is reported as one, never followed.
FileProbe probe(const std::string& path);

// Builds an empty ledger beside `path` and links it into place; loses gracefully to a
// concurrent creator (link() fails with EEXIST and theirs is used). Throws Failure.
void create_ledger_file(const std::string& path);

// Checks the file header before SQLite sees the file: SQLite would treat a file cut short as
// merely smaller (and WAL recovery would then write into it), so a truncated ledger must be
// caught here to be reported without being changed. nullopt when the header is sound.
std::optional<std::string> header_problem(const std::string& path, off_t file_size);

// Brings a ledger from an older schema version (>= 1) to kSchemaVersion, in one write
// transaction: a crash leaves it at the old version, intact. Throws Failure.
void migrate(Connection& db, const std::string& path);

}  // namespace gpuslots::sqlite
