// What only the SQLite store has: its file (creation, modes, damage, links), its WAL, its
// schema migrations, its transient failures and who may write it. The rules are tested on
// every store by test_ledger.cpp.
#define BOOST_TEST_MODULE sqlite_store
#include <sqlite3.h>
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <set>

#include "gpuslots/ledger.hpp"
#include "gpuslots/status.hpp"
#include "gpuslots/storage.hpp"
#include "sqlite_file.hpp"
#include "sqlite_snapshot.hpp"
#include "support/fixtures.hpp"
#include "support/stores.hpp"

using namespace gpuslots;
using gpuslots::test::TempDir;

namespace {

const char* kTwoByFour = R"(
servers:
  - name: gpu-server-[0-1]
    gpus: 4
    cpus: 32
)";

std::unique_ptr<Ledger> open_rw(const Config& config) {
    auto ledger = open_ledger(config, Ledger::Access::read_write);
    BOOST_TEST_REQUIRE(ledger.ok(), (ledger.ok() ? "" : ledger.error().message));
    return std::move(*ledger);
}

Request manual(const std::string& id, int gpus, int cpus, std::uint32_t uid = 0) {
    return Request{Origin::manual, id, gpus, cpus, uid, {}};
}

Request job(const std::string& id, int gpus, int cpus, std::uint32_t uid = 1000) {
    return Request{Origin::slurm, id, gpus, cpus, uid, {}};
}

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

}  // namespace

BOOST_AUTO_TEST_CASE(read_only_open_of_a_missing_ledger_reads_empty_and_creates_nothing) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    auto ledger = open_ledger(config, Ledger::Access::read_only);
    BOOST_TEST_REQUIRE(ledger.ok());
    BOOST_TEST((*ledger)->reservations()->empty());
    BOOST_TEST(!std::filesystem::exists(config.state.sqlite.path));
}

// Only root and the owner may open the ledger's files (whoever can open -shm can stall the
// writers); everyone else reads the status snapshot. Fixed modes, whatever the umask.
BOOST_AUTO_TEST_CASE(a_new_ledger_is_the_owners_alone_and_its_snapshot_is_for_everyone) {
    for (const mode_t mask : {mode_t{077}, mode_t{000}}) {
        BOOST_TEST_CONTEXT("umask " << std::oct << mask) {
            TempDir dir;
            const Config config =
                test::make_config(dir, std::string(kTwoByFour) + "state:\n  path: sub/state.db\n");
            const mode_t old_mask = ::umask(mask);
            BOOST_TEST_REQUIRE(open_rw(config)->reserve("gpu-server-0", manual("a", 1, 1)).ok());
            ::umask(old_mask);
            const std::string& path = config.state.sqlite.path;
            const auto mode = [](const std::string& p) {
                struct stat st {};
                BOOST_TEST_REQUIRE(::lstat(p.c_str(), &st) == 0, p);
                return st.st_mode & 07777;
            };
            BOOST_TEST(mode(dir.file("sub")) == 0755U);
            BOOST_TEST(mode(path) == 0600U);
            BOOST_TEST(mode(path + "-wal") == 0600U);
            BOOST_TEST(mode(path + "-shm") == 0600U);
            BOOST_TEST(mode(path + ".status") == 0755U);
            BOOST_TEST(mode(path + ".status/lock") == 0600U);
            BOOST_TEST(mode(path + ".status/head") == 0644U);
            BOOST_TEST(mode(path + ".status/s.gpu-server-0") == 0644U);
        }
    }
}

// A ledger made by an earlier release (0644, like its -wal and -shm) is made 0600 by the
// first process that may write it.
BOOST_AUTO_TEST_CASE(a_world_readable_ledger_is_made_the_owners_alone_by_its_next_writer) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    const std::string& path = config.state.sqlite.path;
    BOOST_TEST_REQUIRE(open_rw(config)->reserve("gpu-server-0", manual("a", 1, 1)).ok());
    for (const char* suffix : {"", "-wal", "-shm"})
        ::chmod((path + suffix).c_str(), 0644);
    BOOST_TEST_REQUIRE(open_ledger(config, Ledger::Access::read_only).ok());  // changes nothing
    struct stat st {};
    BOOST_TEST_REQUIRE(::stat(path.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0644U);
    { open_rw(config); }
    for (const char* suffix : {"", "-wal", "-shm"}) {
        BOOST_TEST_REQUIRE(::stat((path + suffix).c_str(), &st) == 0);
        BOOST_TEST((st.st_mode & 0777) == 0600U, suffix);
    }
}

BOOST_AUTO_TEST_CASE(ledger_directory_is_created_when_missing) {
    TempDir dir;
    const Config config =
        test::make_config(dir, std::string(kTwoByFour) + "state:\n  path: deep/er/state.db\n");
    auto ledger = open_rw(config);
    BOOST_TEST(std::filesystem::exists(dir.file("deep/er/state.db")));
    // No temporary files are left beside it, nor in its snapshot's directory.
    std::set<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir.file("deep/er"))) {
        names.insert(e.path().filename().string());
    }
    BOOST_TEST((names == std::set<std::string>{"state.db", "state.db-wal", "state.db-shm",
                                               "state.db.status"}));
    names.clear();
    for (const auto& e : std::filesystem::directory_iterator(dir.file("deep/er/state.db.status"))) {
        names.insert(e.path().filename().string());
    }
    BOOST_TEST((names == std::set<std::string>{"head", "lock"}));
}

BOOST_AUTO_TEST_CASE(verify_reports_rows_that_do_not_add_up) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    {
        auto ledger = open_rw(config);
        BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", manual("a", 2, 2)).ok());
        BOOST_TEST(ledger->verify()->empty());
    }
    // Damage the ledger behind the library's back: an orphan hold and a missing one.
    exec_sql(config.state.sqlite.path,
             "INSERT INTO gpu_holds (server, gpu, reservation) VALUES ('gpu-server-1', 3, 999);"
             "DELETE FROM gpu_holds WHERE server = 'gpu-server-0' AND gpu = 1;");
    auto ledger = open_rw(config);
    auto problems = ledger->verify();
    BOOST_TEST_REQUIRE(problems.ok());
    BOOST_TEST(problems->size() == 1U);
    auto invariants = check_invariants(config.fleet, *ledger->reservations());
    BOOST_TEST_REQUIRE(invariants.size() == 1U);
    BOOST_TEST(invariants[0].find("reserved 2 GPUs but holds 1") != std::string::npos,
               invariants[0]);
}

namespace {

struct Damage {
    const char* name;
    std::function<void(const std::string& path)> apply;
    const char* expected;  // a phrase the error must contain
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_damaged_ledger_is_reported_and_left_as_it_is) {
    const std::vector<Damage> cases = {
        {"garbage bytes",
         [](const std::string& p) { test::write_file(p, std::string(8192, '\x5a')); }, "damaged"},
        {"empty file", [](const std::string& p) { test::write_file(p, ""); }, "empty"},
        {"truncated",
         [](const std::string& p) {
             const std::string bytes = test::read_file(p);
             test::write_file(p, bytes.substr(0, 100));
         },
         "damaged"},
        {"another application's database",
         [](const std::string& p) {
             std::filesystem::remove(p);
             std::filesystem::remove(p + "-wal");
             std::filesystem::remove(p + "-shm");
             exec_sql(p, "CREATE TABLE t (x)");
         },
         "not a gpuslots ledger"},
        {"future schema", [](const std::string& p) { exec_sql(p, "PRAGMA user_version = 99"); },
         "schema version 99"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.name) {
            TempDir dir;
            const Config config = test::make_config(dir, kTwoByFour);
            {
                auto ledger = open_rw(config);
                BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", manual("a", 1, 1)).ok());
            }
            c.apply(config.state.sqlite.path);
            const std::string before = test::read_file(config.state.sqlite.path);
            for (auto access : {Ledger::Access::read_only, Ledger::Access::read_write}) {
                auto ledger = open_ledger(config, access);
                if (ledger.ok()) {
                    // Some damage only shows when the pages are read.
                    auto all = (*ledger)->reservations();
                    BOOST_TEST_REQUIRE(!all.ok());
                    BOOST_TEST(static_cast<int>(all.error().code) ==
                               static_cast<int>(Errc::ledger));
                    BOOST_TEST(all.error().message.find(c.expected) != std::string::npos,
                               all.error().message);
                    BOOST_TEST(!(*ledger)->reserve("gpu-server-1", manual("b", 1, 1)).ok());
                } else {
                    BOOST_TEST(static_cast<int>(ledger.error().code) ==
                               static_cast<int>(Errc::ledger));
                    BOOST_TEST(ledger.error().message.find(c.expected) != std::string::npos,
                               ledger.error().message);
                    BOOST_TEST(ledger.error().message.find(config.state.sqlite.path) !=
                               std::string::npos);
                }
            }
            BOOST_TEST(test::read_file(config.state.sqlite.path) == before);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_ledger_path_that_is_a_link_or_a_directory_is_refused) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    test::write_file(dir.file("elsewhere"), "precious");
    std::filesystem::create_symlink(dir.file("elsewhere"), config.state.sqlite.path);
    for (auto access : {Ledger::Access::read_only, Ledger::Access::read_write}) {
        auto ledger = open_ledger(config, access);
        BOOST_TEST_REQUIRE(!ledger.ok());
        BOOST_TEST(ledger.error().message.find("is a symbolic link") != std::string::npos,
                   ledger.error().message);
    }
    BOOST_TEST(test::read_file(dir.file("elsewhere")) == "precious");

    std::filesystem::remove(config.state.sqlite.path);
    std::filesystem::create_directory(config.state.sqlite.path);
    auto ledger = open_ledger(config, Ledger::Access::read_write);
    BOOST_TEST_REQUIRE(!ledger.ok());
    BOOST_TEST(ledger.error().message.find("is not a regular file") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_wal_stays_small_when_every_process_makes_one_transaction) {
    // The prolog, the epilog and every CLI call open the ledger, make one transaction and
    // close it. Left alone, SQLite would never restart the WAL in that pattern.
    TempDir dir;
    const Config config = test::make_config(
        dir, std::string(kTwoByFour) + "state:\n  path: state.db\n  durability: normal\n");
    for (int i = 0; i < 400; ++i) {
        auto ledger = open_rw(config);
        const std::string id = "job" + std::to_string(i);
        BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", job(id, 2, 4)).ok());
        auto again = open_rw(config);
        BOOST_TEST_REQUIRE(again->release(Origin::slurm, id, std::nullopt)->size() == 1U);
    }
    const auto wal = std::filesystem::file_size(config.state.sqlite.path + "-wal");
    BOOST_TEST(wal <= 512U * 1024U, "WAL is " << wal << " bytes after 800 one-shot writers");
    BOOST_TEST(open_rw(config)->reservations()->empty());
}

BOOST_AUTO_TEST_CASE(a_schema_1_ledger_is_migrated_by_the_first_writer_and_read_as_is_before) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    // A ledger as the first release of gpuslots wrote it (schema version 1).
    exec_sql(config.state.sqlite.path, R"sql(
        PRAGMA journal_mode = WAL;
        PRAGMA application_id = 1196447059;  -- "GPUS"
        CREATE TABLE reservations (
            id INTEGER PRIMARY KEY,
            origin TEXT NOT NULL CHECK (origin IN ('manual', 'slurm')),
            task_id TEXT NOT NULL, server TEXT NOT NULL,
            cpus INTEGER NOT NULL CHECK (cpus >= 0),
            gpu_count INTEGER NOT NULL CHECK (gpu_count >= 0),
            owner_uid INTEGER NOT NULL, created INTEGER NOT NULL,
            UNIQUE (origin, task_id, server));
        CREATE UNIQUE INDEX one_reservation_per_manual_task ON reservations (task_id)
            WHERE origin = 'manual';
        CREATE INDEX reservations_by_server ON reservations (server);
        CREATE TABLE gpu_holds (server TEXT NOT NULL, gpu INTEGER NOT NULL CHECK (gpu >= 0),
            reservation INTEGER NOT NULL, PRIMARY KEY (server, gpu)) WITHOUT ROWID;
        CREATE INDEX gpu_holds_by_reservation ON gpu_holds (reservation);
        CREATE TABLE refusals (task_id TEXT NOT NULL, server TEXT NOT NULL,
            reason TEXT NOT NULL, created INTEGER NOT NULL,
            PRIMARY KEY (task_id, server)) WITHOUT ROWID;
        INSERT INTO reservations VALUES (7, 'manual', 'old-task', 'gpu-server-1', 3, 2, 1000, 1);
        INSERT INTO gpu_holds VALUES ('gpu-server-1', 0, 7), ('gpu-server-1', 2, 7);
        PRAGMA user_version = 1;)sql");
    const auto user_version = [&] {
        sqlite3* db = nullptr;
        sqlite3_open_v2(config.state.sqlite.path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
        sqlite3_stmt* st = nullptr;
        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr);
        sqlite3_step(st);
        const int v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
    };

    {  // A reader does not change it.
        auto reader = open_ledger(config, Ledger::Access::read_only);
        BOOST_TEST_REQUIRE(reader.ok(), (reader.ok() ? "" : reader.error().message));
        auto all = (*reader)->reservations();
        BOOST_TEST_REQUIRE(all->size() == 1U);
        BOOST_TEST(all->front().gpus == (std::vector<int>{0, 2}), boost::test_tools::per_element());
    }
    BOOST_TEST(user_version() == 1);

    auto ledger = open_rw(config);
    BOOST_TEST(user_version() == gpuslots::sqlite::kSchemaVersion);
    BOOST_TEST(ledger->verify()->empty());
    auto all = ledger->reservations();
    BOOST_TEST_REQUIRE(all->size() == 1U);
    BOOST_TEST(all->front().task_id == "old-task");
    BOOST_TEST(all->front().owner_uid == 1000U);
    // The migrated ledger keeps its invariants: the index is still taken, the id still unique.
    BOOST_TEST(
        ledger->reserve("gpu-server-1", manual("new", 2, 1))->gpus == (std::vector<int>{1, 3}),
        boost::test_tools::per_element());
    BOOST_TEST(!ledger->reserve("gpu-server-0", manual("old-task", 1, 1)).ok());
    BOOST_TEST(ledger->release(Origin::manual, "old-task", std::nullopt)->size() == 1U);
}

// The Ledger re-runs a whole operation after a failure the store calls transient (here
// SQLite's "a recovering process holds the WAL index"), in a fresh transaction: the first try's
// writes are gone, and the second one's are all there.
BOOST_AUTO_TEST_CASE(a_transient_failure_reruns_the_operation_and_others_are_reported) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    struct FailingInsert : test::ForwardingStore {
        using ForwardingStore::ForwardingStore;
        int code = SQLITE_BUSY_RECOVERY;
        int failures_left = 1;
        int inserts = 0;
        void insert(const Reservation& r) override {
            ++inserts;
            ForwardingStore::insert(r);  // written, then the transaction fails after it
            if (failures_left > 0) {
                --failures_left;
                throw StoreFailure{code, "injected"};
            }
        }
    };
    auto store = open_store(config, Access::read_write);
    BOOST_TEST_REQUIRE(store.ok());
    auto failing = std::make_unique<FailingInsert>(std::move(*store));
    FailingInsert& f = *failing;
    Ledger ledger(config, std::move(failing));

    auto r = ledger.reserve("gpu-server-0", manual("a", 2, 2));
    BOOST_TEST_REQUIRE(r.ok(), (r.ok() ? "" : r.error().message));
    BOOST_TEST(f.inserts == 2);
    auto all = ledger.reservations();
    BOOST_TEST_REQUIRE(all->size() == 1U);
    BOOST_TEST(all->front().gpus == (std::vector<int>{0, 1}), boost::test_tools::per_element());
    BOOST_TEST(ledger.verify()->empty());

    f.code = SQLITE_IOERR;  // not transient: reported once, nothing written
    f.failures_left = 1;
    auto io = ledger.reserve("gpu-server-0", manual("b", 1, 1));
    BOOST_TEST_REQUIRE(!io.ok());
    BOOST_TEST(static_cast<int>(io.error().code) == static_cast<int>(Errc::ledger));
    BOOST_TEST(io.error().message.find(config.state.sqlite.path) != std::string::npos,
               io.error().message);
    BOOST_TEST(f.inserts == 3);
    BOOST_TEST(ledger.reservations()->size() == 1U);
}

BOOST_AUTO_TEST_CASE(root_and_the_files_owner_may_write_and_nobody_else) {
    TempDir dir;
    const Config config =
        test::make_config(dir, std::string(kTwoByFour) + "state:\n  path: sub/state.db\n");
    std::filesystem::create_directory(dir.file("sub"));
    struct stat st {};
    BOOST_TEST_REQUIRE(::stat(dir.file("sub").c_str(), &st) == 0);
    const auto me = static_cast<std::uint32_t>(st.st_uid);
    const std::uint32_t stranger = me == 54321U ? 54322U : 54321U;
    // Before the file exists, the owner of its directory would own it.
    BOOST_TEST(check_write_access(config, 0).ok());
    BOOST_TEST(check_write_access(config, me).ok());
    auto denied = check_write_access(config, stranger);
    BOOST_TEST_REQUIRE(!denied.ok());
    BOOST_TEST(static_cast<int>(denied.error().code) == static_cast<int>(Errc::permission));
    BOOST_TEST(denied.error().message.find("only root or the ledger's owner") != std::string::npos,
               denied.error().message);
    BOOST_TEST(denied.error().message.find(config.state.sqlite.path) != std::string::npos);
    open_rw(config);
    BOOST_TEST(check_write_access(config, me).ok());
    BOOST_TEST(!check_write_access(config, stranger).ok());
    if (::geteuid() == 0) {  // a file owned by someone else than its directory
        BOOST_TEST_REQUIRE(::chown(config.state.sqlite.path.c_str(), stranger, 0) == 0);
        BOOST_TEST(check_write_access(config, stranger).ok());
        BOOST_TEST(!check_write_access(config, me == 0 ? 1U : me).ok());
    }
}

BOOST_AUTO_TEST_CASE(the_tool_hears_about_the_file_through_the_store) {
    TempDir dir;
    const Config config = test::make_config(
        dir, std::string(kTwoByFour) + "state:\n  path: state.db\n  durability: normal\n");
    BOOST_TEST(ledger_location(config.state) == dir.file("state.db"));
    BOOST_TEST(describe_storage(config.state) ==
               dir.file("state.db") + " (sqlite, durability normal)");
    BOOST_TEST(storage_warnings(config).empty());  // /tmp is a local filesystem here
    BOOST_TEST(open_rw(config)->location() == dir.file("state.db"));
}

// Commits that SQLite drops without a word when the -wal is damaged or gone (frames after a
// bad checksum, a WAL whose header is garbage, a missing WAL: the ledger as of its last
// checkpoint). The ledger counts its commits and the snapshot's head witnesses the count, so
// a ledger behind its witness is reported as damaged (Errc::ledger, exit 4: a node fault for
// the prolog), never read as if the reservations had been released.
BOOST_AUTO_TEST_CASE(commits_lost_with_a_damaged_or_deleted_wal_are_reported) {
    const std::vector<Damage> cases = {
        {"deleted -wal", [](const std::string& p) { std::filesystem::remove(p + "-wal"); },
         "lost commits"},
        {"garbage -wal",
         [](const std::string& p) {
             const auto size = std::filesystem::file_size(p + "-wal");
             test::write_file(p + "-wal", std::string(size, '\x5a'));
         },
         "lost commits"},
        {"flipped bytes in its last frame",
         [](const std::string& p) {
             std::string wal = test::read_file(p + "-wal");
             BOOST_TEST_REQUIRE(wal.size() > 5000U);
             for (std::size_t i = wal.size() - 3000; i < wal.size() - 2990; ++i)
                 wal[i] ^= 0x55;
             test::write_file(p + "-wal", wal);
         },
         "lost commits"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.name) {
            TempDir dir;
            const Config config = test::make_config(dir, kTwoByFour);
            const std::string& path = config.state.sqlite.path;
            {
                auto ledger = open_rw(config);
                BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", manual("a", 2, 1)).ok());
                BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-1", job("7", 4, 1)).ok());
            }
            ::unlink((path + "-shm").c_str());  // as after a reboot: the WAL is read again
            c.apply(path);
            const std::string before = test::read_file(path);
            for (auto access : {Ledger::Access::read_only, Ledger::Access::read_write}) {
                auto ledger = open_ledger(config, access);
                BOOST_TEST_REQUIRE(ledger.ok(), (ledger.ok() ? "" : ledger.error().message));
                auto all = (*ledger)->reservations();
                BOOST_TEST_REQUIRE(!all.ok(), "the ledger read without its lost commits");
                BOOST_TEST((all.error().code == Errc::ledger), all.error().message);
                BOOST_TEST(all.error().message.find(c.expected) != std::string::npos,
                           all.error().message);
                BOOST_TEST(all.error().message.find(path) != std::string::npos);
                // The next reserve must not hand out the GPUs the lost commits held.
                auto r = (*ledger)->reserve("gpu-server-1", job("8", 1, 1));
                BOOST_TEST_REQUIRE(!r.ok());
                BOOST_TEST((r.error().code == Errc::ledger), r.error().message);
                BOOST_TEST(!(*ledger)->verify().ok());
            }
            BOOST_TEST(test::read_file(path) == before);

            // To go on with the ledger as it is, the admin removes the witness, as the
            // message says; the snapshot is then published again from the ledger.
            std::filesystem::remove_all(path + ".status");
            auto ledger = open_rw(config);
            auto now = ledger->reservations();
            BOOST_TEST_REQUIRE(now.ok(), (now.ok() ? "" : now.error().message));
            auto problems = ledger->verify();
            BOOST_TEST_REQUIRE(problems.ok(), (problems.ok() ? "" : problems.error().message));
            BOOST_TEST(problems->empty());
            BOOST_TEST(std::filesystem::exists(path + ".status/head"));
        }
    }
}

// The previous release's ledger (schema 2, no commit count) is migrated by the first writer,
// keeps its rows, and counts from then on.
BOOST_AUTO_TEST_CASE(a_schema_2_ledger_is_migrated_and_counts_its_commits_from_then_on) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    const std::string& path = config.state.sqlite.path;
    exec_sql(path, R"sql(
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
        INSERT INTO reservations VALUES (3, 'slurm', '41', 'gpu-server-0', 2, 2, 1000, 1);
        INSERT INTO gpu_holds VALUES ('gpu-server-0', 1, 3), ('gpu-server-0', 3, 3);
        PRAGMA user_version = 2;)sql");
    ::chmod(path.c_str(), 0644);
    {  // A root reader reads it as it is; there is no snapshot to witness anything yet.
        auto reader = open_ledger(config, Ledger::Access::read_only);
        BOOST_TEST_REQUIRE(reader.ok(), (reader.ok() ? "" : reader.error().message));
        BOOST_TEST_REQUIRE((*reader)->reservations()->size() == 1U);
    }
    auto ledger = open_rw(config);
    auto all = ledger->reservations();
    BOOST_TEST_REQUIRE(all->size() == 1U);
    BOOST_TEST(all->front().gpus == (std::vector<int>{1, 3}), boost::test_tools::per_element());
    BOOST_TEST(ledger->reserve("gpu-server-0", job("42", 2, 1))->gpus == (std::vector<int>{0, 2}),
               boost::test_tools::per_element());
    // The first commit published the whole snapshot (the old row too) and witnessed it.
    const std::string server0 = test::read_file(path + ".status/s.gpu-server-0");
    BOOST_TEST(server0.find("2:41") != std::string::npos, server0);
    BOOST_TEST(server0.find("2:42") != std::string::npos, server0);
    BOOST_TEST(ledger->verify()->empty());
    struct stat st {};
    BOOST_TEST_REQUIRE(::stat(path.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0600U);
}

// Users other than root read the status snapshot, never the ledger: the node claims that make
// a ledger one node's own (Ledger::authority) are published there too, or a user's `status`
// on n1 would show every other server free.
BOOST_AUTO_TEST_CASE(node_claims_reach_the_snapshot_that_users_read) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    const std::string& path = config.state.sqlite.path;
    const auto users_authority = [&] {
        auto store = sqlite::open_snapshot_store(config);
        BOOST_TEST_REQUIRE(store.ok(), (store.ok() ? "" : store.error().message));
        Ledger reader(config, std::move(*store));
        auto authority = reader.authority();
        BOOST_TEST_REQUIRE(authority.ok(), (authority.ok() ? "" : authority.error().message));
        return *authority;
    };
    auto ledger = open_rw(config);
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-1", manual("a", 1, 1)).ok());
    BOOST_TEST(!std::filesystem::exists(path + ".status/claims"));
    BOOST_TEST(static_cast<int>(users_authority().scope) ==
               static_cast<int>(Authority::Scope::standalone));

    // slurmd's start on gpu-server-0 claims the ledger, in a commit of its own.
    BOOST_TEST_REQUIRE(ledger->release_before_boot("gpu-server-0", "boot-1").ok());
    Authority seen = users_authority();
    BOOST_TEST(static_cast<int>(seen.scope) == static_cast<int>(Authority::Scope::node));
    BOOST_TEST(seen.nodes == (std::vector<std::string>{"gpu-server-0"}),
               boost::test_tools::per_element());
    BOOST_TEST(!seen.covers(*config.fleet.server("gpu-server-1")));
    // Once claimed, slurmd's next start writes nothing.
    const std::string before = test::read_file(path + ".status/head");
    BOOST_TEST_REQUIRE(ledger->release_before_boot("gpu-server-0", "boot-1").ok());
    BOOST_TEST(test::read_file(path + ".status/head") == before);

    // A snapshot published again from scratch (check-config as root) has them as well.
    ledger.reset();
    std::filesystem::remove_all(path + ".status");
    BOOST_TEST(open_rw(config)->verify()->empty());
    BOOST_TEST(users_authority().nodes == (std::vector<std::string>{"gpu-server-0"}),
               boost::test_tools::per_element());

    // A damaged claims file is reported, not read as "no claims" (which would show the other
    // servers free again).
    test::write_file(path + ".status/claims", "gpuslots-claims 1 garbage\n");
    auto store = sqlite::open_snapshot_store(config);
    BOOST_TEST_REQUIRE(store.ok());
    Ledger reader(config, std::move(*store));
    auto damaged = reader.reservations();
    BOOST_TEST_REQUIRE(!damaged.ok());
    BOOST_TEST(damaged.error().message.find("claims is damaged") != std::string::npos,
               damaged.error().message);
}
