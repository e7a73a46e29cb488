// The SQLite ledger: each operation and each invariant, against a real SQLite file.
#define BOOST_TEST_MODULE ledger
#include <sqlite3.h>
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>

#include "gpuslots/ledger.hpp"
#include "gpuslots/status.hpp"
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

std::unique_ptr<Ledger> open_rw(const Config& config) {
    auto ledger = open_ledger(config, Ledger::Access::read_write);
    BOOST_TEST_REQUIRE(ledger.ok(), (ledger.ok() ? "" : ledger.error().message));
    return std::move(*ledger);
}

Request manual(const std::string& id, int gpus, int cpus, std::uint32_t uid = 0) {
    return Request{Origin::manual, id, gpus, cpus, uid};
}

Request job(const std::string& id, int gpus, int cpus, std::uint32_t uid = 1000) {
    return Request{Origin::slurm, id, gpus, cpus, uid};
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

BOOST_AUTO_TEST_CASE(reserve_takes_lowest_free_indices_and_counts_cpus) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    auto ledger = open_rw(config);

    auto a = ledger->reserve("gpu-server-1", manual("a", 2, 16));
    BOOST_TEST_REQUIRE(a.ok());
    BOOST_TEST(a->server == "gpu-server-1");
    BOOST_TEST(a->gpus == (std::vector<int>{0, 1}), boost::test_tools::per_element());
    BOOST_TEST(a->cpus == 16);

    auto b = ledger->reserve("gpu-server-1", manual("b", 1, 8));
    BOOST_TEST_REQUIRE(b.ok());
    BOOST_TEST(b->gpus == (std::vector<int>{2}), boost::test_tools::per_element());

    // The hole left by a release is reused first.
    BOOST_TEST_REQUIRE(ledger->release(Origin::manual, "a", std::nullopt).ok());
    auto c = ledger->reserve("gpu-server-1", manual("c", 3, 8));
    BOOST_TEST_REQUIRE(c.ok());
    BOOST_TEST(c->gpus == (std::vector<int>{0, 1, 3}), boost::test_tools::per_element());

    auto st = summarize(config.fleet, *ledger->reservations());
    BOOST_TEST(st.servers[1].gpus_free == 0);
    BOOST_TEST(st.servers[1].cpus_free == 16);
    BOOST_TEST(st.totals.gpus_free == 4);
    BOOST_TEST(st.problems.empty());
}

BOOST_AUTO_TEST_CASE(no_fit_on_gpus_or_cpus_leaves_ledger_unchanged) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    auto ledger = open_rw(config);
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", manual("big", 3, 30)).ok());

    auto gpus = ledger->reserve("gpu-server-0", manual("g", 2, 1));
    BOOST_TEST_REQUIRE(!gpus.ok());
    BOOST_TEST(static_cast<int>(gpus.error().code) == static_cast<int>(Errc::no_fit));
    BOOST_TEST(gpus.error().message.find("1 of 4 GPUs") != std::string::npos, gpus.error().message);

    auto cpus = ledger->reserve("gpu-server-0", manual("c", 1, 3));
    BOOST_TEST_REQUIRE(!cpus.ok());
    BOOST_TEST(static_cast<int>(cpus.error().code) == static_cast<int>(Errc::no_fit));

    BOOST_TEST(ledger->reservations()->size() == 1U);
}

BOOST_AUTO_TEST_CASE(requests_that_can_never_fit_are_bad_input) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    auto ledger = open_rw(config);
    struct Case {
        std::string server;
        int gpus;
        int cpus;
    };
    for (const Case& c : {Case{"nope", 1, 1}, Case{"gpu-server-0", 5, 1},
                          Case{"gpu-server-0", 1, 33}, Case{"gpu-server-0", -1, 1}}) {
        auto r = ledger->reserve(c.server, manual("x", c.gpus, c.cpus));
        BOOST_TEST_REQUIRE(!r.ok());
        BOOST_TEST(static_cast<int>(r.error().code) == static_cast<int>(Errc::bad_input),
                   c.server << " " << c.gpus << " " << c.cpus);
    }
    BOOST_TEST(ledger->reservations()->empty());
}

BOOST_AUTO_TEST_CASE(manual_task_id_is_reserved_at_most_once_in_the_fleet) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    auto ledger = open_rw(config);
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", manual("t", 1, 1)).ok());
    for (auto attempt : {ledger->reserve("gpu-server-1", manual("t", 1, 1)),
                         ledger->reserve("gpu-server-0", manual("t", 1, 1)),
                         ledger->allocate(manual("t", 1, 1))}) {
        BOOST_TEST_REQUIRE(!attempt.ok());
        BOOST_TEST(static_cast<int>(attempt.error().code) == static_cast<int>(Errc::conflict));
        BOOST_TEST(attempt.error().message.find("gpu-server-0") != std::string::npos);
    }
    // Job 7 and task "7" live in different name spaces.
    BOOST_TEST(ledger->reserve("gpu-server-0", job("t", 1, 1)).ok());
    BOOST_TEST(ledger->reservations()->size() == 2U);
}

BOOST_AUTO_TEST_CASE(slurm_job_once_per_node_and_rerun_prolog_is_idempotent) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    auto ledger = open_rw(config);
    auto first = ledger->reserve("gpu-server-0", job("42", 2, 4));
    BOOST_TEST_REQUIRE(first.ok());
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-1", job("42", 2, 4)).ok());

    auto again = ledger->reserve("gpu-server-0", job("42", 2, 4));
    BOOST_TEST_REQUIRE(again.ok());
    BOOST_TEST(again->gpus == first->gpus, boost::test_tools::per_element());

    auto different = ledger->reserve("gpu-server-0", job("42", 1, 4));
    BOOST_TEST_REQUIRE(!different.ok());
    BOOST_TEST(static_cast<int>(different.error().code) == static_cast<int>(Errc::conflict));
    BOOST_TEST(ledger->reservations()->size() == 2U);

    // The epilog on one node releases only that node's share.
    auto released = ledger->release(Origin::slurm, "42", std::string("gpu-server-1"));
    BOOST_TEST_REQUIRE(released.ok());
    BOOST_TEST(released->size() == 1U);
    BOOST_TEST(ledger->find(Origin::slurm, "42", "gpu-server-0")->has_value());
    BOOST_TEST(!ledger->find(Origin::slurm, "42", "gpu-server-1")->has_value());
}

BOOST_AUTO_TEST_CASE(release_frees_exactly_what_was_reserved_and_twice_is_harmless) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    auto ledger = open_rw(config);
    auto kept = ledger->reserve("gpu-server-0", manual("kept", 1, 5));
    auto r = ledger->reserve("gpu-server-0", manual("r", 2, 7));
    BOOST_TEST_REQUIRE((kept.ok() && r.ok()));

    auto released = ledger->release(Origin::manual, "r", std::nullopt);
    BOOST_TEST_REQUIRE(released.ok());
    BOOST_TEST_REQUIRE(released->size() == 1U);
    BOOST_TEST(released->front().gpus == r->gpus, boost::test_tools::per_element());
    BOOST_TEST(released->front().cpus == 7);

    auto st = summarize(config.fleet, *ledger->reservations());
    BOOST_TEST(st.servers[0].gpus_free == 3);
    BOOST_TEST(st.servers[0].cpus_free == 27);

    auto twice = ledger->release(Origin::manual, "r", std::nullopt);
    BOOST_TEST_REQUIRE(twice.ok());
    BOOST_TEST(twice->empty());
    auto never = ledger->release(Origin::slurm, "999", std::string("gpu-server-0"));
    BOOST_TEST_REQUIRE(never.ok());
    BOOST_TEST(never->empty());
}

BOOST_AUTO_TEST_CASE(release_of_another_users_reservation_is_refused) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    auto ledger = open_rw(config);
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", manual("alice-job", 1, 1, 1001)).ok());
    auto bob = ledger->release(Origin::manual, "alice-job", std::nullopt, 1002U);
    BOOST_TEST_REQUIRE(!bob.ok());
    BOOST_TEST(static_cast<int>(bob.error().code) == static_cast<int>(Errc::permission));
    BOOST_TEST(ledger->reservations()->size() == 1U);
    auto alice = ledger->release(Origin::manual, "alice-job", std::nullopt, 1001U);
    BOOST_TEST_REQUIRE(alice.ok());
    BOOST_TEST(alice->size() == 1U);
}

BOOST_AUTO_TEST_CASE(allocate_uses_best_fit_with_ties_in_config_order) {
    TempDir dir;
    const Config config = test::make_config(dir, R"(
servers:
  - name: a
    gpus: 8
    cpus: 64
  - name: b
    gpus: 4
    cpus: 32
  - name: c
    gpus: 4
    cpus: 32
)");
    auto ledger = open_rw(config);
    // All empty: b and c leave 2 free, a leaves 6; b wins the tie by order.
    BOOST_TEST(ledger->allocate(manual("t1", 2, 2))->server == "b");
    // b now leaves 0 free: fullest.
    BOOST_TEST(ledger->allocate(manual("t2", 2, 2))->server == "b");
    // b is full; c (2 left) beats a (6 left).
    BOOST_TEST(ledger->allocate(manual("t3", 2, 2))->server == "c");
    // Only a has room for 5.
    BOOST_TEST(ledger->allocate(manual("t4", 5, 2))->server == "a");
    auto none = ledger->allocate(manual("t5", 4, 2));
    BOOST_TEST_REQUIRE(!none.ok());
    BOOST_TEST(static_cast<int>(none.error().code) == static_cast<int>(Errc::no_fit));
    BOOST_TEST(
        none.error().message.find("the most free on one server: 3 GPUs") != std::string::npos,
        none.error().message);
}

BOOST_AUTO_TEST_CASE(reset_releases_everything_and_counts) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    auto ledger = open_rw(config);
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", manual("a", 1, 1)).ok());
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-1", job("5", 1, 1)).ok());
    BOOST_TEST_REQUIRE(ledger->record_refusal("gpu-server-1", "6", "busy").ok());
    auto n = ledger->reset();
    BOOST_TEST_REQUIRE(n.ok());
    BOOST_TEST(*n == 2U);
    BOOST_TEST(ledger->reservations()->empty());
    BOOST_TEST(!ledger->refusal("gpu-server-1", "6")->has_value());
}

BOOST_AUTO_TEST_CASE(refusal_is_recorded_per_node_and_cleared_by_release) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    auto ledger = open_rw(config);
    BOOST_TEST_REQUIRE(ledger->record_refusal("gpu-server-0", "77", "no slots").ok());
    BOOST_TEST(ledger->refusal("gpu-server-0", "77")->value_or("") == "no slots");
    BOOST_TEST(!ledger->refusal("gpu-server-1", "77")->has_value());
    BOOST_TEST_REQUIRE(ledger->release(Origin::slurm, "77", std::string("gpu-server-0")).ok());
    BOOST_TEST(!ledger->refusal("gpu-server-0", "77")->has_value());
}

BOOST_AUTO_TEST_CASE(reservations_survive_reopening) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    {
        auto ledger = open_rw(config);
        BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-1", manual("kept", 2, 3, 1234)).ok());
    }
    auto ledger = open_ledger(config, Ledger::Access::read_only);
    BOOST_TEST_REQUIRE(ledger.ok());
    auto all = (*ledger)->reservations();
    BOOST_TEST_REQUIRE(all->size() == 1U);
    const Reservation& r = all->front();
    BOOST_TEST(r.task_id == "kept");
    BOOST_TEST(r.server == "gpu-server-1");
    BOOST_TEST(r.gpus == (std::vector<int>{0, 1}), boost::test_tools::per_element());
    BOOST_TEST(r.cpus == 3);
    BOOST_TEST(r.owner_uid == 1234U);
    BOOST_TEST(r.created_unix > 0);
}

BOOST_AUTO_TEST_CASE(read_only_open_of_a_missing_ledger_reads_empty_and_creates_nothing) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    auto ledger = open_ledger(config, Ledger::Access::read_only);
    BOOST_TEST_REQUIRE(ledger.ok());
    BOOST_TEST((*ledger)->reservations()->empty());
    BOOST_TEST(!std::filesystem::exists(config.state.path));
}

BOOST_AUTO_TEST_CASE(new_ledger_is_world_readable_and_keeps_its_wal_files) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    const mode_t old_mask = ::umask(077);  // a strict umask must not hide status from users
    { open_rw(config); }
    ::umask(old_mask);
    struct stat st {};
    BOOST_TEST_REQUIRE(::stat(config.state.path.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0644U);
    // Readers without write access need the -wal and -shm files to exist.
    BOOST_TEST(std::filesystem::exists(config.state.path + "-wal"));
    BOOST_TEST(std::filesystem::exists(config.state.path + "-shm"));
    BOOST_TEST_REQUIRE(::stat((config.state.path + "-shm").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0044) == 0044U);
}

BOOST_AUTO_TEST_CASE(ledger_directory_is_created_when_missing) {
    TempDir dir;
    const Config config =
        test::make_config(dir, std::string(kTwoByFour) + "state:\n  path: deep/er/state.db\n");
    auto ledger = open_rw(config);
    BOOST_TEST(std::filesystem::exists(dir.file("deep/er/state.db")));
    // No temporary files are left beside it.
    std::size_t entries = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.file("deep/er"))) {
        BOOST_TEST(e.path().filename().string().rfind("state.db", 0) == 0U);
        ++entries;
    }
    BOOST_TEST(entries <= 3U);
}

BOOST_AUTO_TEST_CASE(fleet_changes_need_no_reset) {
    TempDir dir;
    const Config before = test::make_config(dir, kTwoByFour);
    {
        auto ledger = open_rw(before);
        BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-1", manual("on-1", 2, 2)).ok());
    }
    // gpu-server-1 leaves the config, gpu-server-2 joins.
    TempDir other;
    test::write_file(other.file("g.yaml"), fmt::format(R"(
servers:
  - name: gpu-server-0
    gpus: 4
    cpus: 32
  - name: gpu-server-2
    gpus: 8
    cpus: 64
state:
  path: {}
)",
                                                       before.state.path));
    auto after = load_config(other.file("g.yaml"));
    BOOST_TEST_REQUIRE(after.ok());
    auto ledger = open_rw(*after);
    auto st = summarize(after->fleet, *ledger->reservations());
    BOOST_TEST_REQUIRE(st.servers.size() == 2U);
    BOOST_TEST(st.servers[1].name == "gpu-server-2");
    BOOST_TEST(st.servers[1].gpus_free == 8);  // added: free
    BOOST_TEST(st.totals.gpus_free == 12);
    BOOST_TEST_REQUIRE(st.removed.size() == 1U);  // removed but still holding: reported
    BOOST_TEST(st.removed[0].name == "gpu-server-1");
    BOOST_TEST(st.removed[0].tasks.at(0).task_id == "on-1");
    BOOST_TEST(st.problems.empty());
    // Its reservation stays until released, and then it is gone.
    auto released = ledger->release(Origin::manual, "on-1", std::nullopt);
    BOOST_TEST(released->size() == 1U);
    BOOST_TEST(summarize(after->fleet, *ledger->reservations()).removed.empty());
}

BOOST_AUTO_TEST_CASE(a_server_that_shrank_below_its_holdings_is_a_problem_not_a_reset) {
    TempDir dir;
    const Config before = test::make_config(dir, kTwoByFour);
    {
        auto ledger = open_rw(before);
        BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", manual("wide", 4, 30)).ok());
    }
    TempDir other;
    test::write_file(other.file("g.yaml"), fmt::format(R"(
servers:
  - name: gpu-server-[0-1]
    gpus: 2
    cpus: 16
state:
  path: {}
)",
                                                       before.state.path));
    auto after = load_config(other.file("g.yaml"));
    BOOST_TEST_REQUIRE(after.ok());
    auto ledger = open_rw(*after);
    auto st = summarize(after->fleet, *ledger->reservations());
    BOOST_TEST(st.servers[0].gpus_free == 0);
    BOOST_TEST(st.servers[0].cpus_free == 0);
    BOOST_TEST(st.problems.size() == 3U);  // GPU 2, GPU 3, and 30 > 16 CPUs
    // Nothing new fits there until the reservation is released.
    BOOST_TEST(!ledger->reserve("gpu-server-0", manual("more", 1, 1)).ok());
    BOOST_TEST(ledger->reservations()->size() == 1U);
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
    exec_sql(config.state.path,
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

BOOST_AUTO_TEST_CASE(check_invariants_sees_a_double_booked_index) {
    Fleet fleet = *Fleet::from({Server{"s", 4, 8}});
    Reservation a{Origin::manual, "a", "s", {0, 1}, 2, 1, 0, 1};
    Reservation b{Origin::slurm, "9", "s", {1}, 1, 1, 0, 2};
    auto problems = check_invariants(fleet, {a, b});
    BOOST_TEST_REQUIRE(problems.size() == 1U);
    BOOST_TEST(problems[0].find("GPU 1 of s is held by both") != std::string::npos, problems[0]);
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
            c.apply(config.state.path);
            const std::string before = test::read_file(config.state.path);
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
                    BOOST_TEST(ledger.error().message.find(config.state.path) != std::string::npos);
                }
            }
            BOOST_TEST(test::read_file(config.state.path) == before);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_ledger_path_that_is_a_link_or_a_directory_is_refused) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    test::write_file(dir.file("elsewhere"), "precious");
    std::filesystem::create_symlink(dir.file("elsewhere"), config.state.path);
    for (auto access : {Ledger::Access::read_only, Ledger::Access::read_write}) {
        auto ledger = open_ledger(config, access);
        BOOST_TEST_REQUIRE(!ledger.ok());
        BOOST_TEST(ledger.error().message.find("is a symbolic link") != std::string::npos,
                   ledger.error().message);
    }
    BOOST_TEST(test::read_file(dir.file("elsewhere")) == "precious");

    std::filesystem::remove(config.state.path);
    std::filesystem::create_directory(config.state.path);
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
    const auto wal = std::filesystem::file_size(config.state.path + "-wal");
    BOOST_TEST(wal <= 512U * 1024U, "WAL is " << wal << " bytes after 800 one-shot writers");
    BOOST_TEST(open_rw(config)->reservations()->empty());
}

BOOST_AUTO_TEST_CASE(a_schema_1_ledger_is_migrated_by_the_first_writer_and_read_as_is_before) {
    TempDir dir;
    const Config config = test::make_config(dir, kTwoByFour);
    // A ledger as the first release of gpuslots wrote it (schema version 1).
    exec_sql(config.state.path, R"sql(
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
        sqlite3_open_v2(config.state.path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
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
    BOOST_TEST(user_version() == 2);
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
