// The SQLite store's entry points, for the factory (storage.cpp). Internal to lib/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gpuslots/config.hpp"
#include "gpuslots/error.hpp"
#include "gpuslots/store.hpp"

namespace gpuslots::sqlite {

// Opens the ledger file config.state.sqlite.path (read_write: creates it, and its directory,
// when absent). Errors: ledger (not a regular file, damaged, not a gpuslots ledger, from a
// newer schema), busy.
Result<std::unique_ptr<Store>> open_store(const Config& config, Access access);

// Root, and the owner of the ledger file (or of the nearest directory above it, before it
// exists), may write it. Errors: permission (with who may), ledger (no directory above it).
Result<void> check_write_access(const Config& config, std::uint32_t euid);

// What the admin must hear before writing: a ledger on a network filesystem.
std::vector<std::string> warnings(const SqliteOptions& options);

}  // namespace gpuslots::sqlite
