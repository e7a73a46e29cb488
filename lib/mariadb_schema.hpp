// The MariaDB store's schema: what `gpuslots db init` creates and migrates, and the grants it
// prints for the admin to run. Internal to lib/ (the tool reaches it through storage.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpuslots/config.hpp"
#include "gpuslots/error.hpp"
#include "mariadb_db.hpp"

namespace gpuslots::mariadb {

// The schema version this build writes (table ledger_schema); a database at a newer one is
// refused, an older one is migrated by `gpuslots db init`.
inline constexpr std::int64_t kSchemaVersion = 1;

// The read account may run only this procedure; it returns every reservation with its GPUs.
inline constexpr const char* kStatusProcedure = "gpuslots_status";

// The accounts `db init` names in the grants it prints and in the event that ends the read
// account's long transactions.
struct Accounts {
    std::string writer = "gpuslots";
    std::string reader = "gpuslots_read";
    std::string host = "%";  // the hosts they log in from
};

// What `db init` did, for the admin.
struct InitReport {
    std::int64_t from_version = 0;     // 0: a new schema
    std::vector<std::string> added;    // servers of the config that got a row
    std::vector<std::string> removed;  // rows of servers that are not in the config (kept)
    std::vector<std::string> grants;   // the statements the admin runs, one per line
    bool event_scheduler = true;       // false: the server runs no events (the reaper waits)
};

// Creates (or migrates) the schema in state.mariadb.database over `admin` (an account that may
// create databases, tables, routines and events), the status procedure, the event, and a
// servers row for every server of the config. Idempotent. Throws Failure.
InitReport init_schema(Connection& admin, const Config& config, const Accounts& accounts);

// The schema version recorded in the connected database: 0 when it has none yet.
std::int64_t schema_version(Connection& db);

}  // namespace gpuslots::mariadb
