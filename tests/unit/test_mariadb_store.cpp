// What only the MariaDB store has, against the real server of the ctest fixture "mariadb"
// (tests/support/mariadb.hpp): its accounts and option files, what the read account can and
// cannot do, row locks per server, the database's own refusal of a double-booked GPU, lost
// connections, schema versions and `gpuslots db init`. The rules are tested on every store by
// test_ledger.cpp. Without a server the program exits 77 (skipped, with the reason).
#define BOOST_TEST_MODULE mariadb_store
#define BOOST_TEST_NO_MAIN
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <thread>

#include "gpuslots/ledger.hpp"
#include "gpuslots/storage.hpp"
#include "mariadb_db.hpp"
#include "support/fixtures.hpp"
#include "support/mariadb.hpp"

using namespace gpuslots;
using gpuslots::test::TempDir;
namespace server = gpuslots::test::mariadb_server;
namespace db = gpuslots::mariadb;

namespace {

constexpr int kNobody = 65534;

const char* kTwoByFour = R"(
servers:
  - name: gpu-server-[0-1]
    gpus: 4
    cpus: 32
)";

// A config of kTwoByFour on a database of its own, with `extra` state keys.
Config config_for(const TempDir& dir, const std::string& extra = "") {
    std::string state = server::state_yaml(dir);
    state.replace(0, 7, "state:\n" + extra);
    return test::make_config(dir, kTwoByFour + state);
}

std::unique_ptr<Ledger> open_rw(const Config& config) {
    auto ledger = open_ledger(config, Ledger::Access::read_write);
    BOOST_TEST_REQUIRE(ledger.ok(), (ledger.ok() ? "" : ledger.error().message));
    return std::move(*ledger);
}

Request manual(const std::string& id, int gpus, int cpus) {
    return Request{Origin::manual, id, gpus, cpus, 0, {}};
}

// A session as the account of `option_file`, on the test's database.
std::unique_ptr<db::Connection> session(const Config& config, const std::string& option_file) {
    return std::make_unique<db::Connection>(db::Endpoint{config.state.mariadb, option_file},
                                            std::chrono::seconds(5));
}

// The error number `sql` fails with on `c`, 0 when it succeeds.
int failure_of(db::Connection& c, const std::string& sql) {
    try {
        c.exec(sql);
        return 0;
    } catch (const StoreFailure& f) {
        return f.code;
    }
}

test::Run cli(const TempDir& dir, std::vector<std::string> args, int as_uid = -1) {
    args.insert(args.begin(), {GPUSLOTS_CLI, "--config", dir.file("gpuslots.yaml")});
    return test::run_process(args, "", as_uid);
}

}  // namespace

int main(int argc, char* argv[]) {
    if (auto why = server::unavailable()) {
        std::printf("SKIP: the MariaDB store's tests cannot run here: %s\n", why->c_str());
        return 77;
    }
    return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}

BOOST_AUTO_TEST_CASE(wrong_credentials_give_one_line_naming_the_option_file) {
    TempDir dir;
    Config config = config_for(dir);
    std::string cnf = test::read_file(server::file("db.cnf"));
    cnf.replace(cnf.find("rw-secret"), 9, "wrong");
    test::write_file(dir.file("bad.cnf"), cnf);
    ::chmod(dir.file("bad.cnf").c_str(), 0600);  // no warning about who may read it
    config.state.mariadb.option_file = dir.file("bad.cnf");
    auto ledger = open_ledger(config, Ledger::Access::read_write);
    BOOST_TEST_REQUIRE(!ledger.ok());
    BOOST_TEST((ledger.error().code == Errc::config));
    BOOST_TEST(ledger.error().message.find(dir.file("bad.cnf")) != std::string::npos);
    BOOST_TEST(ledger.error().message.find("Access denied") != std::string::npos);
    BOOST_TEST(ledger.error().message.find('\n') == std::string::npos);

    // The same through the tool: exit 4, one line.
    const std::string yaml = test::read_file(dir.file("gpuslots.yaml"));
    std::string bad = yaml;
    bad.replace(bad.find(server::file("db.cnf")), server::file("db.cnf").size(),
                dir.file("bad.cnf"));
    test::write_file(dir.file("gpuslots.yaml"), bad);
    const auto run = cli(dir, {"allocate", "t", "1", "1"});
    BOOST_TEST(run.exit_code == 4);
    BOOST_TEST(run.err.find(dir.file("bad.cnf")) != std::string::npos, run.err);
    BOOST_TEST(std::count(run.err.begin(), run.err.end(), '\n') == 1);
}

BOOST_AUTO_TEST_CASE(a_user_without_the_writers_option_file_cannot_change_the_ledger) {
    TempDir dir;
    const Config config = config_for(dir);
    BOOST_TEST_REQUIRE(open_rw(config)->reserve("gpu-server-0", manual("roots", 1, 1)).ok());
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"allocate", "mine", "1", "1"}, {"release", "roots"}, {"reset", "--yes"}}) {
        const auto run = cli(dir, args, kNobody);
        BOOST_TEST(run.exit_code == 5, args[0] << ": " << run.err);
        BOOST_TEST(run.err.find(server::file("db.cnf")) != std::string::npos, run.err);
    }
    // Users read status with the read account, and see root's reservation.
    const auto status = cli(dir, {"status"}, kNobody);
    BOOST_TEST(status.exit_code == 0, status.err);
    BOOST_TEST(status.out.find("roots") != std::string::npos, status.out);

    // Around the tool, with the read account's own credentials: no table is theirs.
    auto reader = session(config, server::file("read.cnf"));
    BOOST_TEST(failure_of(*reader, "DELETE FROM reservations") == db::kCommandDenied);
    BOOST_TEST(failure_of(*reader, "DELETE FROM gpu_holds") == db::kCommandDenied);
    BOOST_TEST(failure_of(*reader, "INSERT INTO refusals VALUES ('1', 'x', 'y', 0)") ==
               db::kCommandDenied);
    BOOST_TEST(failure_of(*reader, "SELECT * FROM reservations") == db::kCommandDenied);
    BOOST_TEST(open_rw(config)->reservations()->size() == 1U);
}

BOOST_AUTO_TEST_CASE(the_read_account_cannot_block_a_writer) {
    TempDir dir;
    const Config config = config_for(dir, "  busy_timeout_ms: 3000\n");
    auto ledger = open_rw(config);
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", manual("first", 1, 1)).ok());
    auto reader = session(config, server::file("read.cnf"));
    // Row locks: SELECT ... FOR UPDATE needs only SELECT, which the account does not have.
    reader->exec("START TRANSACTION");
    BOOST_TEST(failure_of(*reader, "SELECT name FROM servers FOR UPDATE") == db::kCommandDenied);
    BOOST_TEST(failure_of(*reader, "SELECT * FROM reservations LOCK IN SHARE MODE") ==
               db::kCommandDenied);
    // The status procedure refuses to run inside a transaction (whose locks would outlive it).
    BOOST_TEST(failure_of(*reader, "CALL gpuslots_status()") == db::kSignal);
    reader->exec("ROLLBACK");
    reader->exec("SET autocommit = 0");
    BOOST_TEST(failure_of(*reader, "CALL gpuslots_status()") == db::kSignal);
    reader->exec("SET autocommit = 1");
    BOOST_TEST(reader->rows("CALL gpuslots_status()").size() == 1U);

    // A snapshot kept open holds back purge: the event ends it, and writers go on meanwhile.
    reader->exec("START TRANSACTION WITH CONSISTENT SNAPSHOT");
    BOOST_TEST(ledger->reserve("gpu-server-0", manual("second", 1, 1)).ok());
    BOOST_TEST(ledger->release(Origin::manual, "first", std::nullopt).ok());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    int code = 0;
    while (code == 0 && std::chrono::steady_clock::now() < deadline) {
        code = failure_of(*reader, "DO 1");
        if (code == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    BOOST_TEST(db::connection_lost(code), "the reader's transaction was not ended: " << code);
}

BOOST_AUTO_TEST_CASE(a_writer_waits_only_for_the_servers_it_touches_and_gives_up_busy) {
    TempDir dir;
    const Config config = config_for(dir, "  busy_timeout_ms: 1500\n");
    auto ledger = open_rw(config);
    for (const char* s : {"gpu-server-0", "gpu-server-1"}) {  // their servers rows
        BOOST_TEST_REQUIRE(ledger->reserve(s, manual("warm", 1, 1)).ok());
        BOOST_TEST_REQUIRE(ledger->release(Origin::manual, "warm", std::nullopt).ok());
    }
    auto holder = session(config, server::file("db.cnf"));
    holder->exec("START TRANSACTION");
    holder->exec("SELECT name FROM servers WHERE name = 'gpu-server-1' FOR UPDATE");
    // Another server's prolog does not wait.
    const auto start = std::chrono::steady_clock::now();
    BOOST_TEST(ledger->reserve("gpu-server-0", manual("free-to-go", 1, 1)).ok());
    BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1000)));
    // This server's waits, and past its deadline the lock wait is "busy", never "conflict".
    auto waited = ledger->reserve("gpu-server-1", Request{Origin::slurm, "7", 1, 1, 0, {}});
    BOOST_TEST_REQUIRE(!waited.ok());
    BOOST_TEST((waited.error().code == Errc::busy), waited.error().message);
    BOOST_TEST(waited.error().message.find("busy_timeout_ms") != std::string::npos);
    holder->exec("ROLLBACK");
    BOOST_TEST(ledger->reserve("gpu-server-1", Request{Origin::slurm, "7", 1, 1, 0, {}}).ok());
}

BOOST_AUTO_TEST_CASE(the_database_itself_refuses_a_double_booked_gpu) {
    TempDir dir;
    const Config config = config_for(dir);
    auto store = open_store(config, Access::read_write);
    BOOST_TEST_REQUIRE(store.ok());
    Reservation a{Origin::manual, "a", "gpu-server-0", {0, 1}, 2, 1, 0, 1};
    Reservation b{Origin::manual, "b", "gpu-server-0", {1}, 1, 1, 0, 1};
    (*store)->begin(Store::Transaction::write);
    (*store)->insert(a);
    try {
        (*store)->insert(b);  // no lock, no rule: only the primary key stands in the way
        BOOST_FAIL("GPU 1 was booked twice");
    } catch (const StoreFailure& f) {
        BOOST_TEST(f.code == db::kDuplicateKey);
        BOOST_TEST((*store)->transient(f));  // re-run: the rules then see the holder
    }
    (*store)->rollback();
}

BOOST_AUTO_TEST_CASE(a_lost_connection_is_a_clear_error_and_the_next_operation_reconnects) {
    TempDir dir;
    const Config config = config_for(dir);
    auto ledger = open_rw(config);
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", manual("a", 1, 1)).ok());
    auto admin = session(config, server::file("admin.cnf"));
    for (const auto& row : admin->rows("SELECT ID FROM information_schema.PROCESSLIST WHERE "
                                       "USER = 'gpuslots_rw' AND DB = '" +
                                       config.state.mariadb.database + "'")) {
        failure_of(*admin, "KILL CONNECTION " + row[0].value_or("0"));
    }
    auto lost = ledger->reservations();
    BOOST_TEST_REQUIRE(!lost.ok());
    BOOST_TEST((lost.error().code == Errc::unreachable), lost.error().message);
    BOOST_TEST(lost.error().message.find("cannot reach") != std::string::npos,
               lost.error().message);
    auto again = ledger->reservations();
    BOOST_TEST_REQUIRE(again.ok(), (again.ok() ? "" : again.error().message));
    BOOST_TEST(again->size() == 1U);

    Config nowhere = config;
    nowhere.state.mariadb.socket = dir.file("no.sock");
    auto unreachable = open_ledger(nowhere, Ledger::Access::read_write);
    BOOST_TEST_REQUIRE(!unreachable.ok());
    BOOST_TEST((unreachable.error().code == Errc::unreachable));
    BOOST_TEST(unreachable.error().message.find("cannot reach") != std::string::npos);
    BOOST_TEST(unreachable.error().message.find(dir.file("no.sock")) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_newer_schema_is_refused_and_db_init_follows_the_config) {
    TempDir dir;
    const Config config = config_for(dir);
    StoreInit how;
    how.admin_option_file = server::file("admin.cnf");
    how.reader = "gpuslots_ro";
    auto first = init_store(config, how);
    BOOST_TEST_REQUIRE(first.ok(), (first.ok() ? "" : first.error().message));
    BOOST_TEST(first->from_version == first->to_version);  // the fixture made it already
    BOOST_TEST(first->added.size() == 2U);
    BOOST_TEST(first->grants.size() == 4U);

    const Config smaller = test::make_config(
        dir, std::string("servers:\n  - name: gpu-server-0\n    gpus: 4\n    cpus: 32\n") +
                 server::state_yaml(dir));
    auto second = init_store(smaller, how);
    BOOST_TEST_REQUIRE(second.ok());
    BOOST_TEST(second->added.empty());
    BOOST_TEST(second->removed == std::vector<std::string>{"gpu-server-1"},
               boost::test_tools::per_element());

    auto admin = session(config, server::file("admin.cnf"));
    admin->exec("UPDATE ledger_schema SET version = 99");
    auto newer = open_ledger(config, Ledger::Access::read_write);
    BOOST_TEST_REQUIRE(!newer.ok());
    BOOST_TEST(newer.error().message.find("newer than this gpuslots") != std::string::npos);
    BOOST_TEST((newer.error().code == Errc::config));  // the site's set-up: drains no node
    BOOST_TEST(!init_store(config, how).ok());
    admin->exec("UPDATE ledger_schema SET version = 1");
    BOOST_TEST(open_ledger(config, Ledger::Access::read_write).ok());
}

BOOST_AUTO_TEST_CASE(db_init_prints_the_grants_and_the_yaml_takes_no_password) {
    TempDir dir;
    const Config config = config_for(dir);
    auto run = cli(dir, {"db", "init", "--admin-option-file", server::file("admin.cnf")});
    BOOST_TEST(run.exit_code == 0, run.err);
    BOOST_TEST(run.out.find("GRANT EXECUTE ON PROCEDURE") != std::string::npos, run.out);
    BOOST_TEST(run.out.find("GRANT SELECT, INSERT, UPDATE, DELETE") != std::string::npos);

    auto parsed = parse_config(
        "servers:\n  - name: a\n    gpus: 1\n    cpus: 1\nstate:\n  backend: mariadb\n"
        "  mariadb:\n    password: secret\n",
        dir.file("x.yaml"));
    BOOST_TEST_REQUIRE(!parsed.ok());
    BOOST_TEST(parsed.error().message.find("state.mariadb.password") != std::string::npos);
    BOOST_TEST(parsed.error().message.find("option file") != std::string::npos);
}
