// gpuslots db init: create or migrate the shared ledger's schema on its MariaDB/MySQL server
// (state.backend: mariadb), as the database admin, and print the accounts and grants the admin
// creates for the writers and the readers. Safe to run again: it changes only what is missing.
#include "cli.hpp"
#include "gpuslots/storage.hpp"
#include "text.hpp"

namespace gpuslots::cli {
namespace {

struct DbOptions {
    StoreInit init;
};

int run_db_init(const DbOptions& o, const Globals& globals) {
    auto config = load(globals);
    if (!config) return report(config.error());
    auto done = init_store(*config, o.init);
    if (!done) return report(done.error());
    const std::string where = ledger_location(config->state);
    if (done->from_version == 0) {
        say("db init: created the gpuslots schema (version {}) in {}\n", done->to_version, where);
    } else if (done->from_version < done->to_version) {
        say("db init: migrated {} from schema version {} to {}\n", where, done->from_version,
            done->to_version);
    } else {
        say("db init: {} is at schema version {}; nothing to migrate\n", where, done->to_version);
    }
    say("db init: the status procedure and the event that ends readers' long "
        "transactions are in place\n");
    if (!done->event_scheduler) {
        warn(
            "the database server runs no events (event_scheduler is OFF): set "
            "event_scheduler=ON in its config, or users' open transactions are never ended");
    }
    say("db init: {} server(s) of the config, {} new\n", config->fleet.size(), done->added.size());
    for (const auto& name : done->removed) {
        say("db init: server {} is in the ledger but not in the config; its row is kept "
            "(release what it holds, 'gpuslots status' lists it)\n",
            in_quotes(name));
    }
    say("\nCreate the accounts (as the database admin; passwords of your own, then the "
        "same in {} and {}):\n",
        config->state.mariadb.option_file, config->state.mariadb.read_option_file);
    for (const auto& line : done->grants)
        say("  {}\n", line);
    return kOk;
}

}  // namespace

void setup_db(CLI::App& app, const Globals& globals, Runner& runner) {
    auto o = std::make_shared<DbOptions>();
    CLI::App* db = app.add_subcommand(
        "db", "The shared ledger's database (state.backend: mariadb): 'db init'");
    db->require_subcommand(1, 1);
    CLI::App* init = db->add_subcommand(
        "init",
        "Create or migrate the ledger's schema, the read account's status procedure and the "
        "event that ends its long transactions; sync the servers table with the config; print "
        "the accounts and grants to create");
    init->add_option("--admin-option-file", o->init.admin_option_file,
                     "MySQL option file ([client] user, password, socket or host) of a database "
                     "admin who may create databases, tables, routines and events, and has "
                     "PROCESS and CONNECTION ADMIN (the event's definer)")
        ->required();
    init->add_option("--writer", o->init.writer, "Writers' account name in the grants")
        ->capture_default_str();
    init->add_option("--reader", o->init.reader, "Read account name in the grants and in the event")
        ->capture_default_str();
    init->add_option("--account-host", o->init.account_host,
                     "Host part of both accounts ('%': any host)")
        ->capture_default_str();
    init->callback(
        [o, &globals, &runner] { runner = [o, &globals] { return run_db_init(*o, globals); }; });
}

}  // namespace gpuslots::cli
