// The SQLite ledger's schema 4 (each reservation's boot id and expiry): a schema 3 ledger is
// migrated in place by the first writer and read as it is before; the status snapshot carries
// both, and files written before (version 2) are still read.
#define BOOST_TEST_MODULE sqlite_schema
#include <sqlite3.h>

#include <boost/test/unit_test.hpp>

#include "gpuslots/boot.hpp"
#include "gpuslots/ledger.hpp"
#include "snapshot_format.hpp"
#include "sqlite_file.hpp"
#include "support/fixtures.hpp"

using namespace gpuslots;
using gpuslots::test::TempDir;

namespace {

const char* kTwoByFour = R"(
servers:
  - name: gpu-server-[0-1]
    gpus: 4
    cpus: 32
)";

void exec_sql(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    BOOST_TEST_REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    const std::string message = err != nullptr ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    BOOST_TEST_REQUIRE(rc == SQLITE_OK, message);
}

int user_version(const std::string& path) {
    sqlite3* db = nullptr;
    sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr);
    sqlite3_step(st);
    const int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

// A ledger as schema 3 wrote it: one Slurm job on gpu-server-0, three commits counted.
constexpr const char* kSchema3 = R"sql(
    PRAGMA journal_mode = WAL;
    PRAGMA application_id = 1196447059;  -- "GPUS"
    CREATE TABLE reservations (
        id INTEGER PRIMARY KEY,
        origin TEXT NOT NULL CHECK (origin IN ('manual', 'slurm')),
        task_id TEXT NOT NULL, server TEXT NOT NULL,
        cpus INTEGER NOT NULL CHECK (cpus >= 0),
        gpu_count INTEGER NOT NULL CHECK (gpu_count >= 0),
        owner_uid INTEGER NOT NULL, created INTEGER NOT NULL,
        UNIQUE (server, origin, task_id));
    CREATE UNIQUE INDEX one_reservation_per_manual_task ON reservations (task_id)
        WHERE origin = 'manual';
    CREATE TABLE gpu_holds (server TEXT NOT NULL, gpu INTEGER NOT NULL CHECK (gpu >= 0),
        reservation INTEGER NOT NULL, PRIMARY KEY (server, gpu)) WITHOUT ROWID;
    CREATE TABLE refusals (task_id TEXT NOT NULL, server TEXT NOT NULL,
        reason TEXT NOT NULL, created INTEGER NOT NULL,
        PRIMARY KEY (task_id, server)) WITHOUT ROWID;
    CREATE TABLE ledger_state (id INTEGER PRIMARY KEY CHECK (id = 1),
        commits INTEGER NOT NULL CHECK (commits >= 0));
    INSERT INTO ledger_state VALUES (1, 3);
    INSERT INTO reservations VALUES (5, 'slurm', '41', 'gpu-server-0', 2, 2, 1000, 1);
    INSERT INTO gpu_holds VALUES ('gpu-server-0', 1, 5), ('gpu-server-0', 3, 5);
    PRAGMA user_version = 3;)sql";

}  // namespace

BOOST_AUTO_TEST_CASE(a_schema_3_ledger_is_migrated_in_place_and_read_as_it_is_before) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    const std::string& path = config.state.sqlite.path;
    exec_sql(path, kSchema3);
    ::chmod(path.c_str(), 0600);
    {  // A reader reads it as it is, without the columns it lacks, and changes nothing.
        auto reader = open_ledger(config, Ledger::Access::read_only);
        BOOST_TEST_REQUIRE(reader.ok(), (reader.ok() ? "" : reader.error().message));
        auto all = (*reader)->reservations();
        BOOST_TEST_REQUIRE(all.ok(), (all.ok() ? "" : all.error().message));
        BOOST_TEST_REQUIRE(all->size() == 1U);
        BOOST_TEST(all->front().boot_id.empty());
        BOOST_TEST(!all->front().expires_unix.has_value());
    }
    BOOST_TEST(user_version(path) == 3);

    const std::string boot_file = dir.file("boot_id");
    test::write_file(boot_file, "after-upgrade\n");
    set_boot_id_file(boot_file);
    auto opened = open_ledger(config, Ledger::Access::read_write);
    BOOST_TEST_REQUIRE(opened.ok(), (opened.ok() ? "" : opened.error().message));
    auto& ledger = *opened;
    BOOST_TEST(user_version(path) == gpuslots::sqlite::kSchemaVersion);
    BOOST_TEST(ledger->verify()->empty());
    // The old row: its boot is unknown, it never lapses, its GPUs are still taken.
    Request next{Origin::slurm, "42", 2, 1, 1000, {}};
    next.expires_unix = 1900000000;
    auto made = ledger->reserve("gpu-server-0", next);
    BOOST_TEST_REQUIRE(made.ok());
    BOOST_TEST(made->gpus == (std::vector<int>{0, 2}), boost::test_tools::per_element());
    auto all = ledger->reservations();
    BOOST_TEST_REQUIRE(all->size() == 2U);
    BOOST_TEST(all->at(0).task_id == "41");
    BOOST_TEST(all->at(0).boot_id.empty());
    BOOST_TEST(!all->at(0).expires_unix.has_value());
    BOOST_TEST(all->at(1).boot_id == "after-upgrade");
    BOOST_TEST(all->at(1).expires_unix.value_or(0) == 1900000000);
    set_boot_id_file("");
    // The snapshot users read carries them too.
    const std::string server0 = test::read_file(path + ".status/s.gpu-server-0");
    BOOST_TEST(server0.rfind("gpuslots-status 3 ", 0) == 0U, server0);
    BOOST_TEST(server0.find("13:after-upgrade 1900000000 2:42") != std::string::npos, server0);
}

BOOST_AUTO_TEST_CASE(the_snapshot_round_trips_boot_ids_and_expiries_and_reads_version_2) {
    using namespace gpuslots::sqlite;
    ServerRows rows{"n1", {}};
    Row a;
    a.id = 3;
    a.r.origin = Origin::slurm;
    a.r.task_id = "12";
    a.r.server = "n1";
    a.r.gpus = {0, 1};
    a.r.gpu_count = 2;
    a.r.cpus = 4;
    a.r.created_unix = 100;
    a.r.boot_id = "a b:c";  // any bytes
    Row b = a;
    b.id = 4;
    b.r.origin = Origin::manual;
    b.r.task_id = "t";
    b.r.gpus = {};
    b.r.gpu_count = 0;
    b.r.boot_id = "";
    b.r.expires_unix = 1234;
    rows.rows = {a, b};
    const auto decoded = decode_server(encode_server(rows));
    BOOST_TEST_REQUIRE(decoded.has_value());
    BOOST_TEST_REQUIRE(decoded->rows.size() == 2U);
    BOOST_TEST(decoded->rows[0].r.boot_id == "a b:c");
    BOOST_TEST(!decoded->rows[0].r.expires_unix.has_value());
    BOOST_TEST(decoded->rows[1].r.boot_id.empty());
    BOOST_TEST(decoded->rows[1].r.expires_unix.value_or(0) == 1234);
    BOOST_TEST(decoded->rows[1].r.task_id == "t");

    // A version 2 file, as the release before wrote it.
    const std::string body = "server 2:n1\nr 3 s 1000 100 4 2 0,1 2:12\nend\n";
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : body) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    const std::string v2 =
        fmt::format("gpuslots-status 2 {:016x} {:016x}\n", body.size(), h) + body;
    const auto old = decode_server(v2);
    BOOST_TEST_REQUIRE(old.has_value());
    BOOST_TEST_REQUIRE(old->rows.size() == 1U);
    BOOST_TEST(old->rows[0].r.task_id == "12");
    BOOST_TEST(old->rows[0].r.boot_id.empty());
    BOOST_TEST(old->rows[0].r.gpus == (std::vector<int>{0, 1}), boost::test_tools::per_element());
}
