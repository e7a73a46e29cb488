// The MariaDB store's entry points, for the factory (storage.cpp) and `gpuslots db init`.
// Internal to lib/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gpuslots/config.hpp"
#include "gpuslots/error.hpp"
#include "gpuslots/store.hpp"
#include "mariadb_db.hpp"

namespace gpuslots::mariadb {

// Opens the ledger in state.mariadb.database. read_write and read_only by whoever can read
// the writers' option file: that account; read_only by anyone else: the read account, which
// sees only what the status procedure returns. Errors: config (login refused: the message
// names the option file), ledger (unreachable, no or a newer schema), permission.
Result<std::unique_ptr<Store>> open_store(const Config& config, Access access);

// The writers' store over an open connection (mariadb_store.cpp).
std::unique_ptr<Store> writer_store(const Config& config, Access access,
                                    std::unique_ptr<Connection> db);
// The read account's store (mariadb_read_store.cpp).
std::unique_ptr<Store> reader_store(const Config& config, std::unique_ptr<Connection> db);

// Whoever can read the writers' option file may write (the database's grants decide the
// rest). Errors: permission (it is root's alone, as it should be), config (root cannot read
// it: it is missing).
Result<void> check_write_access(const Config& config, std::uint32_t euid);

// A writers' option file that others can read.
std::vector<std::string> warnings(const MariadbOptions& options);

// "database gpuslots on /run/mysqld/mysqld.sock": where the ledger is, for messages.
std::string location(const MariadbOptions& options);

// `failure` of a connection made with `option_file`, as an error for the caller.
Error to_error(const Failure& failure, const MariadbOptions& options,
               const std::string& option_file);

// "0,2,3" (GROUP_CONCAT of the held indices) as numbers.
std::vector<int> gpu_list(const std::string& text);

// The session's row-lock wait: below the read time-out (a lock wait must end before the
// connector gives up on the answer), within the operation's deadline.
std::chrono::seconds lock_wait(const StateConfig& state);

}  // namespace gpuslots::mariadb
