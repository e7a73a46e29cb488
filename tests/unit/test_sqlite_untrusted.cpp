// What users other than root can and cannot do to an SQLite ledger, tried as those users
// (nobody, uid 65534) against the admin tool and the library: the ledger's owner follows the
// release rule in reset too; nobody else can block, slow or grow the ledger (its files are
// theirs to read through the status snapshot only); a ledger whose directory or files others
// could write is refused. Needs root (to act as nobody); skipped otherwise.
#define BOOST_TEST_MODULE sqlite_untrusted
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <functional>

#include "gpuslots/ledger.hpp"
#include "support/fixtures.hpp"

using namespace gpuslots;
using namespace std::chrono_literals;
using gpuslots::test::Run;
using gpuslots::test::TempDir;
namespace utf = boost::unit_test;

namespace {

constexpr int kNobody = 65534;

boost::test_tools::assertion_result as_root(utf::test_unit_id) {
    boost::test_tools::assertion_result ok(::geteuid() == 0 && ::getpwuid(kNobody) != nullptr);
    ok.message() << "SKIPPED: these cases act as user nobody (uid " << kNobody
                 << "), which needs root";
    return ok;
}

const char* kFleet = R"(servers:
  - name: gpu-server-[0-1]
    gpus: 4
    cpus: 32
)";

// A config and ledger in a temporary directory; `sub` is the ledger's directory below it.
struct Site {
    TempDir dir;
    std::string config_path = dir.file("gpuslots.yaml");
    std::string ledger;

    explicit Site(const std::string& state = "state:\n  path: ledger/state.db\n") {
        test::write_file(config_path, std::string(kFleet) + state);
        ledger = dir.file("ledger/state.db");
    }
    Run cli(const std::vector<std::string>& args, int as_uid = -1) const {
        std::vector<std::string> argv{GPUSLOTS_CLI, "--config", config_path};
        argv.insert(argv.end(), args.begin(), args.end());
        return test::run_process(argv, "", as_uid);
    }
    Config config() const {
        auto c = load_config(config_path);
        BOOST_TEST_REQUIRE(c.ok());
        return std::move(*c);
    }
};

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_ledger_owner_other_than_root_may_reset_only_its_own_tasks,
                     *utf::precondition(as_root)) {
    Site site;
    std::filesystem::create_directory(site.dir.file("ledger"));
    BOOST_TEST_REQUIRE(::chown(site.dir.file("ledger").c_str(), kNobody, kNobody) == 0);
    BOOST_TEST_REQUIRE(site.cli({"allocate", "mine", "1", "1"}, kNobody).exit_code == 0);
    BOOST_TEST_REQUIRE(site.cli({"allocate", "roots", "1", "1"}).exit_code == 0);
    const std::string before = site.cli({"status", "--json"}).out;

    // As release refuses root's task one by one (exit 5), reset refuses it among all.
    const Run one = site.cli({"release", "roots"}, kNobody);
    BOOST_TEST(one.exit_code == 5, one.err);
    const Run all = site.cli({"reset", "--yes"}, kNobody);
    BOOST_TEST(all.exit_code == 5, all.err);
    BOOST_TEST(contains(all.err, "permission denied: 1 of the 2 reservation(s) are not yours"),
               all.err);
    BOOST_TEST(contains(all.err, "task 'roots'"), all.err);
    BOOST_TEST(std::count(all.err.begin(), all.err.end(), '\n') == 1);
    BOOST_TEST(site.cli({"status", "--json"}).out == before);

    // Once only its own tasks are left, the owner may reset; root always may.
    BOOST_TEST_REQUIRE(site.cli({"release", "roots"}).exit_code == 0);
    const Run own = site.cli({"reset", "--yes"}, kNobody);
    BOOST_TEST(own.exit_code == 0, own.err);
    BOOST_TEST(contains(own.out, "released 1 reservation(s)"), own.out);
    BOOST_TEST_REQUIRE(site.cli({"allocate", "mine", "1", "1"}, kNobody).exit_code == 0);
    BOOST_TEST(site.cli({"reset", "--yes"}).exit_code == 0);
}

namespace {

// Runs `attack` as nobody in a child that reports on a pipe (1 byte: 'y' it holds what it
// tried to take, 'n' it could not) and then waits to be killed.
struct Attacker {
    pid_t pid = -1;
    char outcome = '?';
    ~Attacker() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }
};

void attack_as_nobody(Attacker& a, const std::function<bool()>& attack) {
    int report[2];
    BOOST_TEST_REQUIRE(::pipe(report) == 0);
    a.pid = ::fork();
    BOOST_TEST_REQUIRE(a.pid >= 0);
    if (a.pid == 0) {
        ::close(report[0]);
        if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) ::_exit(1);
        const char byte = attack() ? 'y' : 'n';
        if (::write(report[1], &byte, 1) != 1) ::_exit(1);
        for (;;)
            ::pause();
    }
    ::close(report[1]);
    BOOST_TEST_REQUIRE(::read(report[0], &a.outcome, 1) == 1);
    ::close(report[0]);
}

}  // namespace

// The reproduction: python3 -c 'fd=os.open("STATE.db-shm",os.O_RDONLY);
// fcntl.lockf(fd,fcntl.LOCK_SH|fcntl.LOCK_NB,1,120)' as nobody made every allocate and
// release, and root's status, fail after busy_timeout_ms with "locking protocol (SQLite code
// 15)", exit 4: a drained node, from a prolog.
BOOST_AUTO_TEST_CASE(a_user_cannot_stall_writers_with_a_lock_on_the_shm_file,
                     *utf::precondition(as_root)) {
    Site site("state:\n  path: ledger/state.db\n  busy_timeout_ms: 1500\n");
    BOOST_TEST_REQUIRE(site.cli({"allocate", "first", "1", "1"}).exit_code == 0);
    Attacker a;
    attack_as_nobody(a, [&] {
        const int fd = ::open((site.ledger + "-shm").c_str(), O_RDONLY);
        if (fd < 0) return false;
        struct flock lock {};
        lock.l_type = F_RDLCK;
        lock.l_whence = SEEK_SET;
        lock.l_start = 120;  // WAL_WRITE_LOCK; 121-127 are the other lock bytes
        lock.l_len = 1;
        return ::fcntl(fd, F_SETLK, &lock) == 0;
    });
    BOOST_TEST(a.outcome == 'n', "nobody opened and locked the -shm file");
    const auto start = std::chrono::steady_clock::now();
    const Run allocate = site.cli({"allocate", "second", "1", "1"});
    const Run release = site.cli({"release", "first"});
    const Run status = site.cli({"status"});
    BOOST_TEST(allocate.exit_code == 0, allocate.err);
    BOOST_TEST(release.exit_code == 0, release.err);
    BOOST_TEST(status.exit_code == 0, status.err);
    BOOST_TEST((std::chrono::steady_clock::now() - start < 1500ms));
}

// The reproduction: a user holding a read transaction open ('sqlite3 -readonly STATE.db',
// 'BEGIN; SELECT ...') kept the WAL from being reset: it grew by 16.5 KB per operation (50 MB
// after 3,000) and the writers slowed down steadily.
BOOST_AUTO_TEST_CASE(a_user_cannot_grow_the_wal_with_an_open_read_transaction,
                     *utf::precondition(as_root)) {
    Site site("state:\n  path: ledger/state.db\n  durability: normal\n");
    const Config config = site.config();
    BOOST_TEST_REQUIRE(open_ledger(config, Ledger::Access::read_write).ok());
    Attacker a;
    attack_as_nobody(a, [&] {
        sqlite3* db = nullptr;
        if (sqlite3_open_v2(site.ledger.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
            return false;
        }
        return sqlite3_exec(db, "BEGIN; SELECT count(*) FROM reservations;", nullptr, nullptr,
                            nullptr) == SQLITE_OK;  // and the transaction stays open
    });
    BOOST_TEST(a.outcome == 'n', "nobody holds a read transaction on the ledger");
    for (int i = 0; i < 600; ++i) {  // as prologs and epilogs do: one process per operation
        const std::string id = std::to_string(i + 1);
        auto ledger = open_ledger(config, Ledger::Access::read_write);
        BOOST_TEST_REQUIRE(ledger.ok());
        BOOST_TEST_REQUIRE(
            (*ledger)->reserve("gpu-server-0", Request{Origin::slurm, id, 1, 1, 0, {}}).ok());
        auto again = open_ledger(config, Ledger::Access::read_write);
        BOOST_TEST_REQUIRE(again.ok());
        BOOST_TEST_REQUIRE((*again)->release(Origin::slurm, id, std::nullopt).ok());
    }
    const auto wal = std::filesystem::file_size(site.ledger + "-wal");
    BOOST_TEST(wal <= 512U * 1024U, "the WAL is " << wal << " bytes after 1,200 writers");
}

// Users still read status, table and JSON, with what the ledger holds: the snapshot, which
// every commit updates for the servers it changed (here also a server left empty, one that
// left the config, and a reset).
BOOST_AUTO_TEST_CASE(users_read_status_from_the_snapshot_as_root_reads_the_ledger,
                     *utf::precondition(as_root)) {
    Site site;
    const auto same_for_everyone = [&](const std::string& when) {
        BOOST_TEST_CONTEXT(when) {
            for (const char* format : {"--json", ""}) {
                std::vector<std::string> args{"status"};
                if (*format != '\0') args.emplace_back(format);
                const Run root = site.cli(args);
                const Run user = site.cli(args, kNobody);
                BOOST_TEST(user.exit_code == root.exit_code, user.err);
                BOOST_TEST(user.out == root.out);
                BOOST_TEST(user.err == root.err);
            }
        }
    };
    same_for_everyone("no ledger yet");
    BOOST_TEST_REQUIRE(site.cli({"allocate", "a", "2", "4"}).exit_code == 0);
    BOOST_TEST_REQUIRE(
        site.cli({"allocate", "b", "1", "1", "--server", "gpu-server-1"}).exit_code == 0);
    BOOST_TEST_REQUIRE(
        site.cli({"allocate", "c", "1", "1", "--server", "gpu-server-0"}).exit_code == 0);
    same_for_everyone("three tasks");
    BOOST_TEST_REQUIRE(site.cli({"release", "b"}).exit_code == 0);
    same_for_everyone("a server left empty");
    test::write_file(site.config_path, std::string(R"(servers:
  - name: gpu-server-1
    gpus: 4
    cpus: 32
state:
  path: ledger/state.db
)"));
    same_for_everyone("a server that left the config");
    BOOST_TEST_REQUIRE(site.cli({"reset", "--yes"}).exit_code == 0);
    same_for_everyone("after reset");
    // Nobody opened a file of the ledger: it could not have (0600).
    const Run sneak = test::run_process({"/bin/cat", site.ledger + "-shm"}, "", kNobody);
    BOOST_TEST(sneak.exit_code != 0);
}

// umask 000 made the state directory drwxrwxrwx, and then anyone could move the -wal away.
BOOST_AUTO_TEST_CASE(the_state_directory_gets_fixed_modes_and_others_writable_ones_are_refused,
                     *utf::precondition(as_root)) {
    Site site("state:\n  path: deep/er/state.db\n");
    const Run made = test::run_process({"/bin/sh", "-c",
                                        std::string("umask 000; exec ") + GPUSLOTS_CLI +
                                            " --config " + site.config_path + " allocate t 1 1"});
    BOOST_TEST_REQUIRE(made.exit_code == 0, made.err);
    const auto mode = [](const std::string& p) {
        struct stat st {};
        BOOST_TEST_REQUIRE(::stat(p.c_str(), &st) == 0, p);
        return st.st_mode & 07777;
    };
    const std::string dir = site.dir.file("deep/er");
    BOOST_TEST(mode(site.dir.file("deep")) == 0755U);
    BOOST_TEST(mode(dir) == 0755U);
    BOOST_TEST(mode(dir + "/state.db") == 0600U);
    BOOST_TEST(mode(dir + "/state.db-wal") == 0600U);
    BOOST_TEST(mode(dir + "/state.db.status") == 0755U);

    struct Case {
        const char* what;
        std::string path;
        mode_t mode;
        const char* expected;
    };
    const std::vector<Case> cases = {
        {"a directory everyone can write", dir, 0777, "can be written by everyone"},
        {"a directory its group can write", dir, 0775, "can be written by its group"},
        {"a -wal others can write", dir + "/state.db-wal", 0666, "can be written by others"},
        {"a ledger others can write", dir + "/state.db", 0606, "can be written by others"},
        {"a snapshot everyone can write", dir + "/state.db.status", 0777, "everyone"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.what) {
            const mode_t old = mode(c.path);
            BOOST_TEST_REQUIRE(::chmod(c.path.c_str(), c.mode) == 0);
            for (int uid : {-1, kNobody}) {
                std::vector<std::vector<std::string>> commands{{"status"}};
                if (uid < 0) commands.push_back({"allocate", "u", "1", "1"});
                for (const auto& command : commands) {
                    const Run r = site.cli(command, uid);
                    BOOST_TEST(r.exit_code == 4, "exit " << r.exit_code << ": " << r.err << r.out);
                    BOOST_TEST(contains(r.err, c.expected), r.err);
                    BOOST_TEST(contains(r.err, "chmod"), r.err);
                    BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1, r.err);
                }
            }
            BOOST_TEST_REQUIRE(::chmod(c.path.c_str(), old) == 0);
        }
    }
    BOOST_TEST(site.cli({"release", "t"}).exit_code == 0);
}

namespace {

// What `sqlite3 STATE.db ".backup FILE"` does, through the same API.
void backup(const std::string& from, const std::string& to) {
    sqlite3* src = nullptr;
    sqlite3* dst = nullptr;
    BOOST_TEST_REQUIRE(sqlite3_open_v2(from.c_str(), &src, SQLITE_OPEN_READONLY, nullptr) ==
                       SQLITE_OK);
    BOOST_TEST_REQUIRE(sqlite3_open(to.c_str(), &dst) == SQLITE_OK);
    sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main");
    BOOST_TEST_REQUIRE(b != nullptr);
    BOOST_TEST(sqlite3_backup_step(b, -1) == SQLITE_DONE);
    sqlite3_backup_finish(b);
    sqlite3_close(dst);
    sqlite3_close(src);
}

// A restore as the README describes it: the copy put in place, its -wal and -shm removed.
void restore(const Site& site, const std::string& copy) {
    test::write_file(site.ledger, test::read_file(copy));  // keeps the file's owner and mode
    std::filesystem::remove(site.ledger + "-wal");
    std::filesystem::remove(site.ledger + "-shm");
}

}  // namespace

// After a restore from a .backup (no -wal, no -shm), users read status at once: they read
// the snapshot, which does not need the ledger's files. A copy older than the snapshot's
// witness is a ledger that lost commits until root accepts it by removing the snapshot.
BOOST_AUTO_TEST_CASE(after_a_restore_users_read_status_and_an_older_copy_must_be_accepted,
                     *utf::precondition(as_root)) {
    Site site;
    BOOST_TEST_REQUIRE(site.cli({"allocate", "a", "1", "1"}).exit_code == 0);
    BOOST_TEST_REQUIRE(site.cli({"allocate", "b", "2", "2"}).exit_code == 0);
    const std::string copy = site.dir.file("copy.db");
    backup(site.ledger, copy);

    restore(site, copy);  // the same commits as the snapshot
    const Run user = site.cli({"status", "--json"}, kNobody);
    BOOST_TEST(user.exit_code == 0, user.err);
    BOOST_TEST(contains(user.out, R"("id":"b")"), user.out);
    const Run root = site.cli({"status", "--json"});
    BOOST_TEST(root.exit_code == 0, root.err);
    BOOST_TEST(root.out == user.out);
    BOOST_TEST(site.cli({"allocate", "c", "1", "1"}).exit_code == 0);
    BOOST_TEST(contains(site.cli({"status"}, kNobody).out, " c"));

    // An older copy: it lacks c, which the snapshot has seen committed.
    restore(site, copy);
    const Run lost = site.cli({"status"});
    BOOST_TEST(lost.exit_code == 4, lost.err);
    BOOST_TEST(contains(lost.err, "lost commits"), lost.err);
    BOOST_TEST(contains(lost.err, "remove " + site.ledger + ".status"), lost.err);
    BOOST_TEST(site.cli({"allocate", "d", "1", "1"}).exit_code == 4);
    std::filesystem::remove_all(site.ledger + ".status");  // accepted, as the message says
    const Run waiting = site.cli({"status"}, kNobody);
    BOOST_TEST(waiting.exit_code == 4, waiting.err);
    BOOST_TEST(contains(waiting.err, "not there yet"), waiting.err);
    BOOST_TEST(contains(waiting.err, "check-config"), waiting.err);
    const Run check = site.cli({"check-config"});
    BOOST_TEST(check.exit_code == 0, check.err);
    const Run after = site.cli({"status", "--json"}, kNobody);
    BOOST_TEST(after.exit_code == 0, after.err);
    BOOST_TEST(after.out == site.cli({"status", "--json"}).out);
    BOOST_TEST(!contains(after.out, R"("id":"c")"), after.out);
}

// A creation killed half way leaves its temporary ledger behind; the next creator removes it,
// and the "<ledger>.new-<pid>" files of earlier releases' killed creators too.
BOOST_AUTO_TEST_CASE(what_killed_creators_left_is_removed_by_the_next_one,
                     *utf::precondition(as_root)) {
    Site site;
    std::filesystem::create_directories(site.ledger + ".status");
    test::write_file(site.ledger + ".status/.new-ledger", "half a ledger");
    test::write_file(site.ledger + ".status/.tmp", "half a file");
    const pid_t gone = ::fork();
    BOOST_TEST_REQUIRE(gone >= 0);
    if (gone == 0) ::_exit(0);
    ::waitpid(gone, nullptr, 0);
    const std::string old_style = site.ledger + ".new-" + std::to_string(gone);
    const std::string alive = site.ledger + ".new-" + std::to_string(::getpid());
    test::write_file(old_style, "x");
    test::write_file(alive, "x");  // a creator that is still running is left alone
    BOOST_TEST_REQUIRE(site.cli({"allocate", "a", "1", "1"}).exit_code == 0);
    BOOST_TEST(!std::filesystem::exists(site.ledger + ".status/.new-ledger"));
    BOOST_TEST(!std::filesystem::exists(site.ledger + ".status/.tmp"));
    BOOST_TEST(!std::filesystem::exists(old_style));
    BOOST_TEST(std::filesystem::exists(alive));
}
