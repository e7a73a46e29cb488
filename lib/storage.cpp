// The store factory: the one place that knows which stores exist and picks one by
// state.backend (the config parser accepts only the backends listed here). A new backend adds
// a branch to each function below and nothing elsewhere.
#include "gpuslots/storage.hpp"

#include "gpuslots/ledger.hpp"
#include "mariadb_schema.hpp"
#include "mariadb_store.hpp"
#include "sqlite_store.hpp"

namespace gpuslots {
namespace {

bool is_sqlite(const StateConfig& state) {
    return state.backend == "sqlite";
}

bool is_mariadb(const StateConfig& state) {
    return state.backend == "mariadb";
}

Error unavailable(const StateConfig& state) {
    return make_error(Errc::config, "state.backend {} is not available in this build",
                      in_quotes(state.backend));
}

}  // namespace

Result<std::unique_ptr<Store>> open_store(const Config& config, Access access) {
    if (is_mariadb(config.state)) return mariadb::open_store(config, access);
    if (!is_sqlite(config.state)) return unavailable(config.state);
    return sqlite::open_store(config, access);
}

Result<std::unique_ptr<Ledger>> open_ledger(const Config& config, Ledger::Access access) {
    auto store = open_store(config, access);
    if (!store) return store.error();
    return std::make_unique<Ledger>(config, std::move(*store));
}

std::string ledger_location(const StateConfig& state) {
    if (is_mariadb(state)) return mariadb::location(state.mariadb);
    return is_sqlite(state) ? state.sqlite.path : state.backend;
}

std::string describe_storage(const StateConfig& state) {
    if (is_mariadb(state)) {
        return fmt::format("{} (mariadb, writers' account in {}, readers' in {})",
                           mariadb::location(state.mariadb), state.mariadb.option_file,
                           state.mariadb.read_option_file);
    }
    if (!is_sqlite(state)) return state.backend;
    return fmt::format("{} (sqlite, durability {})", state.sqlite.path,
                       state.sqlite.durability == Durability::full ? "full" : "normal");
}

Result<void> check_write_access(const Config& config, std::uint32_t euid) {
    if (is_mariadb(config.state)) return mariadb::check_write_access(config, euid);
    if (!is_sqlite(config.state)) return unavailable(config.state);
    return sqlite::check_write_access(config, euid);
}

std::vector<std::string> storage_warnings(const Config& config) {
    if (is_mariadb(config.state)) return mariadb::warnings(config.state.mariadb);
    if (!is_sqlite(config.state)) return {};
    return sqlite::warnings(config.state.sqlite);
}

Result<StoreInitReport> init_store(const Config& config, const StoreInit& how) {
    if (!is_mariadb(config.state)) {
        return make_error(Errc::bad_input,
                          "db init: state.backend is {}, which needs no init (the ledger file "
                          "is created by the first write); it is for 'backend: mariadb'",
                          in_quotes(config.state.backend));
    }
    try {
        mariadb::Connection admin(
            mariadb::Endpoint{config.state.mariadb, how.admin_option_file, false},
            mariadb::lock_wait(config.state));
        const mariadb::Accounts accounts{how.writer, how.reader, how.account_host};
        mariadb::InitReport r = mariadb::init_schema(admin, config, accounts);
        return StoreInitReport{r.from_version,       mariadb::kSchemaVersion, std::move(r.added),
                               std::move(r.removed), std::move(r.grants),     r.event_scheduler};
    } catch (const StoreFailure& f) {
        return mariadb::to_error(f, config.state.mariadb, how.admin_option_file);
    }
}

}  // namespace gpuslots
