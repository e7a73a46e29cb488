// The MariaDB server of a test run, as tests/support/mariadb_server.sh left it in
// $GPUSLOTS_TEST_MARIADB (ctest's fixture "mariadb": started once per run, not per test), and
// one database per test ledger on it: gt_<the TempDir's suffix>, created as `gpuslots db init`
// creates it and dropped when the test program ends.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <string>

#include "gpuslots/storage.hpp"
#include "mariadb_db.hpp"
#include "support/fixtures.hpp"

namespace gpuslots::test::mariadb_server {

// The server's directory, or nullopt.
inline std::optional<std::string> directory() {
    const char* dir = std::getenv("GPUSLOTS_TEST_MARIADB");
    if (dir == nullptr || *dir == '\0') return std::nullopt;
    return std::string(dir);
}

// nullopt when the server is there; otherwise why not (for the skip message).
inline std::optional<std::string> unavailable() {
    const auto dir = directory();
    if (!dir) {
        return std::string(
            "GPUSLOTS_TEST_MARIADB is not set: run it through ctest, whose fixture 'mariadb' "
            "starts the server (tests/support/mariadb_server.sh)");
    }
    const std::string why = read_file(*dir + "/unavailable");
    if (!why.empty()) return "no MariaDB server: " + why.substr(0, why.find('\n'));
    if (!std::filesystem::exists(*dir + "/admin.cnf")) {
        return "no MariaDB server in " + *dir + " (its fixture did not run)";
    }
    return std::nullopt;
}

inline std::string file(const std::string& name) {
    return directory().value_or("/nonexistent") + "/" + name;
}

// The database name of the ledger private to `dir`.
inline std::string database_for(const TempDir& dir) {
    std::string suffix = dir.path().filename().string();
    suffix = suffix.substr(suffix.rfind('-') + 1);
    return "gt_" + suffix;
}

// Drops the databases this program created when it ends.
class Databases {
  public:
    static Databases& instance() {
        static Databases d;
        return d;
    }
    // Creates the database (once) and its schema, as the admin.
    void create(const std::string& name) {
        if (!made_.insert(name).second) return;
        Config config;
        config.state.backend = "mariadb";
        config.state.mariadb.database = name;
        StoreInit how;
        how.admin_option_file = file("admin.cnf");
        how.reader = "gpuslots_ro";
        auto done = init_store(config, how);
        if (!done) throw std::runtime_error("db init failed: " + done.error().message);
    }
    ~Databases() {
        if (made_.empty()) return;
        try {
            MariadbOptions options;
            gpuslots::mariadb::Connection admin({options, file("admin.cnf"), false},
                                                std::chrono::seconds(5));
            for (const auto& name : made_)
                admin.exec("DROP DATABASE IF EXISTS `" + name + "`");
        } catch (...) {
        }
    }

  private:
    std::set<std::string> made_;
};

// The `state:` section of a config whose ledger is an empty database of its own for `dir`.
inline std::string state_yaml(const TempDir& dir) {
    const std::string name = database_for(dir);
    Databases::instance().create(name);
    return "state:\n  backend: mariadb\n  mariadb:\n    database: " + name +
           "\n    option_file: " + file("db.cnf") + "\n    read_option_file: " + file("read.cnf") +
           "\n";
}

}  // namespace gpuslots::test::mariadb_server
