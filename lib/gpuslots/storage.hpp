// The store factory, and what the front-ends ask about where the ledger is kept, answered by
// the store of config.state.backend, so that the tool never looks at one backend's options
// itself. open_ledger() (ledger.hpp) is implemented here too.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gpuslots/config.hpp"
#include "gpuslots/error.hpp"
#include "gpuslots/store.hpp"

namespace gpuslots {

// The store of config.state.backend, opened as open_ledger() opens it (same errors); for a
// Ledger built by hand over it (tests, tools that wrap a store).
Result<std::unique_ptr<Store>> open_store(const Config& config, Access access);

// Where the ledger lives, for messages: "/var/lib/gpuslots/state.db".
std::string ledger_location(const StateConfig& state);

// One line for check-config: "/var/lib/gpuslots/state.db (sqlite, durability full)".
std::string describe_storage(const StateConfig& state);

// Whether the process with effective uid `euid` may change the ledger. SQLite: root and the
// owner of the ledger file. Errors: permission (the message says who may), ledger (the
// question cannot be answered: e.g. no directory above the ledger file).
Result<void> check_write_access(const Config& config, std::uint32_t euid);

// `gpuslots db init`: creates the shared store's schema (or migrates it), as the database
// admin whose credentials are in `admin_option_file`, and brings its servers table in step
// with the config. A store without a schema of its own to create (SQLite creates its file on
// the first write) answers Errc::bad_input.
struct StoreInit {
    std::string admin_option_file;
    std::string writer = "gpuslots";  // the accounts named in the grants it prints
    std::string reader = "gpuslots_read";
    std::string account_host = "%";
};
struct StoreInitReport {
    std::int64_t from_version = 0;  // 0: created
    std::int64_t to_version = 0;
    std::vector<std::string> added;    // servers that got their row
    std::vector<std::string> removed;  // rows of servers no longer in the config (kept)
    std::vector<std::string> grants;   // SQL for the admin to run, one statement per entry
    bool event_scheduler = true;       // false: the server runs no events; say so
};
Result<StoreInitReport> init_store(const Config& config, const StoreInit& how);

// What an admin must hear before changing the ledger (a ledger file on NFS). Each is one
// line that says what to do; none stops the operation.
std::vector<std::string> storage_warnings(const Config& config);

}  // namespace gpuslots
