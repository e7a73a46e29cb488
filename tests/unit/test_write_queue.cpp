// The writers' queue in front of SQLite's write lock (lib/write_queue.hpp): where it lives,
// a holder that dies, a holder that does not let go, a turn given back after a failed write,
// and an object that is not usable (writes go on without it).
#define BOOST_TEST_MODULE write_queue
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstring>
#include <functional>

#include "gpuslots/ledger.hpp"
#include "support/fixtures.hpp"
#include "support/shm.hpp"
#include "write_queue.hpp"

using namespace gpuslots;
using namespace std::chrono_literals;
namespace utf = boost::unit_test;

namespace {

constexpr uid_t kNobody = 65534;

struct Fixture {
    test::TempDir dir;
    Config config;
    std::string queue;

    explicit Fixture(const std::string& state_extra = "") {
        config = test::make_config(dir,
                                   "servers:\n  - name: n[1-2]\n    gpus: 2\n    cpus: 8\n"
                                   "state:\n  path: state.db\n" +
                                       state_extra);
        BOOST_TEST_REQUIRE(open_ledger(config, Ledger::Access::read_write).ok());
        queue = sqlite::WriteQueue::path_for(config.state.sqlite.path);
        BOOST_TEST_REQUIRE(!queue.empty());
        ::unlink(queue.c_str());  // an earlier ledger with the same inode may have left one
    }
    ~Fixture() { ::unlink(queue.c_str()); }

    std::unique_ptr<Ledger> ledger() {
        auto l = open_ledger(config, Ledger::Access::read_write);
        BOOST_TEST_REQUIRE(l.ok(), (l.ok() ? "" : l.error().message));
        return std::move(*l);
    }

    Result<Reservation> reserve(const std::string& id, int gpus = 1) {
        return ledger()->reserve("n1", Request{Origin::slurm, id, gpus, 1, 0});
    }
    void release(const std::string& id) {
        auto r = ledger()->release(Origin::slurm, id, std::string("n1"));
        BOOST_TEST_REQUIRE(r.ok());
        BOOST_TEST(r->size() == 1U);
    }

    // A child process that takes the writers' turn and holds it until killed; returns once the
    // turn is taken (told through a pipe, not guessed with a sleep).
    pid_t holder() {
        int ready[2];
        BOOST_TEST_REQUIRE(::pipe(ready) == 0);
        const pid_t pid = ::fork();
        BOOST_TEST_REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(ready[0]);
            auto q = sqlite::WriteQueue::open(config.state.sqlite.path, nullptr);
            if (!q || !q->enter(std::chrono::steady_clock::now() + 5s)) ::_exit(1);
            const char byte = 'x';
            if (::write(ready[1], &byte, 1) != 1) ::_exit(1);
            for (;;)
                ::pause();
        }
        ::close(ready[1]);
        char byte = 0;
        const auto n = ::read(ready[0], &byte, 1);
        ::close(ready[0]);
        BOOST_TEST_REQUIRE(n == 1);
        return pid;
    }

    // Whether another process gets the writers' turn within `within`.
    bool turn_free_for_others(std::chrono::milliseconds within) {
        const pid_t pid = ::fork();
        BOOST_TEST_REQUIRE(pid >= 0);
        if (pid == 0) {
            auto q = sqlite::WriteQueue::open(config.state.sqlite.path, nullptr);
            ::_exit(q && q->enter(std::chrono::steady_clock::now() + within) ? 0 : 1);
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
};

void make_file(const std::string& path, const std::string& bytes, mode_t mode) {
    test::write_file(path, bytes);
    BOOST_TEST_REQUIRE(::chmod(path.c_str(), mode) == 0);
}

void kill_and_reap(pid_t pid) {
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_first_write_creates_the_queue_in_shared_memory_for_this_user,
                     *utf::precondition(test::shm_is_tmpfs)) {
    Fixture f;
    BOOST_TEST(f.queue.rfind("/dev/shm/gpuslots-queue-" + std::to_string(::geteuid()) + "-", 0) ==
               0U);
    struct stat st {};
    BOOST_TEST(::lstat(f.queue.c_str(), &st) != 0);  // opening the ledger alone makes none
    BOOST_TEST_REQUIRE(f.reserve("1").ok());
    BOOST_TEST_REQUIRE(::lstat(f.queue.c_str(), &st) == 0);
    BOOST_TEST(S_ISREG(st.st_mode));
    BOOST_TEST((st.st_mode & 07777) == 0600U);
    BOOST_TEST(st.st_uid == ::geteuid());
    // Built aside and linked into place: nothing else of ours is left in /dev/shm.
    for (const auto& e : std::filesystem::directory_iterator("/dev/shm")) {
        BOOST_TEST(e.path().string().rfind(f.queue + ".new-", 0) != 0U, e.path());
    }
}

BOOST_AUTO_TEST_CASE(state_write_queue_false_makes_none) {
    Fixture f("  write_queue: false\n");
    BOOST_TEST_REQUIRE(f.reserve("1").ok());
    struct stat st {};
    BOOST_TEST(::lstat(f.queue.c_str(), &st) != 0);
}

BOOST_AUTO_TEST_CASE(a_holder_killed_mid_turn_does_not_block_the_next_writer,
                     *utf::precondition(test::shm_is_tmpfs)) {
    Fixture f;
    BOOST_TEST_REQUIRE(f.reserve("1").ok());
    for (int round = 0; round < 3; ++round) {
        kill_and_reap(f.holder());
        const auto start = std::chrono::steady_clock::now();
        const std::string id = "after-kill-" + std::to_string(round);
        auto r = f.reserve(id);
        BOOST_TEST(r.ok(), (r.ok() ? "" : r.error().message));
        // Not after a timeout: the dead holder's turn passes on at once.
        BOOST_TEST((std::chrono::steady_clock::now() - start < 2s));
        f.release(id);
    }
}

// The queue is never a reason to fail: a turn that does not come costs a writer half its
// busy timeout, and it then writes under SQLite's lock alone.
BOOST_AUTO_TEST_CASE(a_live_holder_delays_writers_by_half_the_busy_timeout_and_readers_go_on,
                     *utf::precondition(test::shm_is_tmpfs)) {
    Fixture f("  busy_timeout_ms: 600\n");
    BOOST_TEST_REQUIRE(f.reserve("1").ok());
    const pid_t pid = f.holder();
    const auto start = std::chrono::steady_clock::now();
    auto r = f.reserve("2");
    const auto waited = std::chrono::steady_clock::now() - start;
    BOOST_TEST(r.ok(), (r.ok() ? "" : r.error().message));
    BOOST_TEST((waited >= 300ms));
    BOOST_TEST((waited < 3s));
    // Readers never queue.
    auto ro = open_ledger(f.config, Ledger::Access::read_only);
    BOOST_TEST_REQUIRE(ro.ok());
    auto all = (*ro)->reservations();
    BOOST_TEST_REQUIRE(all.ok());
    BOOST_TEST(all->size() == 2U);
    kill_and_reap(pid);
    const auto after = std::chrono::steady_clock::now();
    BOOST_TEST(f.reserve("3", 0).ok());
    BOOST_TEST((std::chrono::steady_clock::now() - after < 300ms));
}

BOOST_AUTO_TEST_CASE(a_failed_write_gives_its_turn_back, *utf::precondition(test::shm_is_tmpfs)) {
    Fixture f;
    auto ledger = f.ledger();  // stays open, as in a long-lived process
    BOOST_TEST_REQUIRE(ledger->reserve("n1", Request{Origin::slurm, "full", 2, 1, 0}).ok());
    // Refused inside the write transaction (n1 is full now), which then rolls back.
    auto refused = ledger->reserve("n1", Request{Origin::slurm, "more", 1, 1, 0});
    BOOST_TEST_REQUIRE(!refused.ok());
    BOOST_TEST((refused.error().code == Errc::no_fit), refused.error().message);
    BOOST_TEST(f.turn_free_for_others(1000ms));
    BOOST_TEST_REQUIRE(ledger->release(Origin::slurm, "full", std::string("n1")).ok());
    BOOST_TEST(f.turn_free_for_others(1000ms));
}

// Another user could make the object first (its name is predictable), or it could be damaged.
// A process maps only an object it owns, with the right mode, size and header; anything else
// is left alone and the write goes on under SQLite's lock alone.
BOOST_AUTO_TEST_CASE(an_object_that_is_not_usable_is_left_alone_and_writes_go_on,
                     *utf::precondition(test::shm_is_tmpfs)) {
    struct Case {
        const char* what;
        std::function<void(const std::string&)> make;
        const char* reason;
    };
    const std::size_t size = 16 + 8 + 2 * sizeof(pthread_mutex_t);
    const std::vector<Case> cases = {
        {"garbage of the right size",
         [&](const std::string& p) { make_file(p, std::string(size, 'x'), 0600); },
         "not a gpuslots write queue"},
        {"wrong size", [](const std::string& p) { make_file(p, "short", 0600); }, "bytes, not"},
        {"group-readable",
         [&](const std::string& p) { make_file(p, std::string(size, '\0'), 0640); }, "not 0600"},
        {"another user's",
         [&](const std::string& p) {
             make_file(p, std::string(size, '\0'), 0600);
             if (::geteuid() == 0) BOOST_TEST_REQUIRE(::chown(p.c_str(), kNobody, kNobody) == 0);
         },
         "belongs to uid"},
        {"a symbolic link",
         [](const std::string& p) { BOOST_TEST_REQUIRE(::symlink("/dev/null", p.c_str()) == 0); },
         "Too many levels of symbolic links"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.what) {
            if (std::string(c.what) == "another user's" && ::geteuid() != 0) {
                BOOST_TEST_MESSAGE("SKIPPED: " << c.what << " needs root to chown");
                continue;
            }
            Fixture f;
            c.make(f.queue);
            struct stat before {};
            BOOST_TEST_REQUIRE(::lstat(f.queue.c_str(), &before) == 0);
            const std::string bytes = S_ISLNK(before.st_mode) ? "" : test::read_file(f.queue);

            std::string why;
            BOOST_TEST(!sqlite::WriteQueue::open(f.config.state.sqlite.path, &why));
            BOOST_TEST(why.find(c.reason) != std::string::npos, why);
            auto r = f.reserve("1");
            BOOST_TEST(r.ok(), (r.ok() ? "" : r.error().message));

            struct stat after {};
            BOOST_TEST_REQUIRE(::lstat(f.queue.c_str(), &after) == 0);
            BOOST_TEST(after.st_mode == before.st_mode);
            BOOST_TEST(after.st_uid == before.st_uid);
            if (!S_ISLNK(before.st_mode)) BOOST_TEST(test::read_file(f.queue) == bytes);
        }
    }
}

// An object whose header is sound but whose mutexes are damaged while in use: a lock word that
// names a thread that no longer exists (no kernel clean-up will ever free it), or bytes that
// glibc refuses as a mutex. Writers notice within two 100 ms slices, leave the object where
// it is and write under SQLite's lock alone; they neither fail nor wait out busy_timeout_ms.
BOOST_AUTO_TEST_CASE(a_queue_damaged_in_use_is_given_up_and_writes_go_on,
                     *utf::precondition(test::shm_is_tmpfs)) {
    struct Case {
        const char* what;
        std::function<void(sqlite::WriteQueue::Shared&, int dead_tid)> damage;
    };
    const std::vector<Case> cases = {
        {"lock words of a thread that is gone",
         [](sqlite::WriteQueue::Shared& s, int dead) {
             s.turnstile.__data.__lock = dead;
             s.queue.__data.__lock = dead;
         }},
        {"garbage mutexes",
         [](sqlite::WriteQueue::Shared& s, int) {
             std::memset(&s.turnstile, 0xa5, sizeof s.turnstile);
             std::memset(&s.queue, 0xa5, sizeof s.queue);
         }},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.what) {
            Fixture f("  busy_timeout_ms: 4000\n");
            BOOST_TEST_REQUIRE(f.reserve("1").ok());  // creates the object
            const pid_t gone = ::fork();              // a pid that names nobody once reaped
            BOOST_TEST_REQUIRE(gone >= 0);
            if (gone == 0) ::_exit(0);
            ::waitpid(gone, nullptr, 0);
            {
                const int fd = ::open(f.queue.c_str(), O_RDWR);
                BOOST_TEST_REQUIRE(fd >= 0);
                void* p = ::mmap(nullptr, sizeof(sqlite::WriteQueue::Shared),
                                 PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                ::close(fd);
                BOOST_TEST_REQUIRE(p != MAP_FAILED);
                c.damage(*static_cast<sqlite::WriteQueue::Shared*>(p), gone);
                ::munmap(p, sizeof(sqlite::WriteQueue::Shared));
            }
            for (int i = 2; i < 5; ++i) {
                const auto start = std::chrono::steady_clock::now();
                auto r = f.reserve(std::to_string(i), 0);
                BOOST_TEST(r.ok(), (r.ok() ? "" : r.error().message));
                BOOST_TEST((std::chrono::steady_clock::now() - start < 1s));
            }
            BOOST_TEST(std::filesystem::exists(f.queue));  // not removed: it may be in use
        }
    }
}
