// kill -9 at random moments: a process loops over reserve/allocate/release and is killed with
// SIGKILL many times. After each kill the ledger must open, pass its own integrity check and
// every invariant, and hold exactly the state of the last committed operation: the operation
// in flight is either wholly there or wholly absent. Run once per store (`test_crash
// --store=NAME`, tests/support/stores.hpp); on SQLite the status snapshot is checked too.
#define BOOST_TEST_MODULE crash
#define BOOST_TEST_NO_MAIN
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>
#include <random>
#include <tuple>

#include "gpuslots/ledger.hpp"
#include "gpuslots/status.hpp"
#include "sqlite_snapshot.hpp"
#include "support/fixtures.hpp"
#include "support/store_main.hpp"

using namespace gpuslots;

namespace {

constexpr int kKills = 60;

enum Op : int { kNone = 0, kReserve = 1, kRelease = 2 };

// Written by the child around each operation: what is in flight, and what last committed.
struct Journal {
    std::atomic<long> ops;
    std::atomic<int> inflight_op;
    char inflight_task[64];
    std::atomic<int> done_op;
    char done_task[64];
    std::atomic<int> done_origin;
};

void set(char (&field)[64], const std::string& value) {
    std::snprintf(field, sizeof field, "%s", value.c_str());
}

[[noreturn]] void churn(const Config& config, Journal& j, unsigned seed) {
    auto opened = open_ledger(config, Ledger::Access::read_write);
    if (!opened) ::_exit(3);
    Ledger& ledger = **opened;
    std::mt19937 rng(seed);
    for (long n = 0;; ++n) {
        auto all = ledger.reservations();
        if (!all) ::_exit(4);
        if (!all->empty() && (all->size() > 4 || rng() % 2 == 0)) {
            const Reservation& victim = (*all)[rng() % all->size()];
            set(j.inflight_task, victim.task_id);
            j.inflight_op = kRelease;
            auto r = ledger.release(victim.origin, victim.task_id, std::nullopt);
            if (!r) ::_exit(5);
            j.done_op = kNone;  // while done_task is rewritten, it names nothing
            set(j.done_task, victim.task_id);
            j.done_origin = static_cast<int>(victim.origin);
            j.done_op = kRelease;
        } else {
            const std::string id = fmt::format("p{}-{}", ::getpid(), n);
            const bool as_job = rng() % 2 == 0;
            const int gpus = 1 + static_cast<int>(rng() % 4);
            set(j.inflight_task, id);
            j.inflight_op = kReserve;
            auto r = as_job ? ledger.reserve(rng() % 2 ? "n1" : "n2",
                                             Request{Origin::slurm, id, gpus, 2, 0})
                            : ledger.allocate(Request{Origin::manual, id, gpus, 2, 0});
            if (!r && r.error().code != Errc::no_fit) ::_exit(6);
            if (r) {
                j.done_op = kNone;
                set(j.done_task, id);
                j.done_origin = static_cast<int>(as_job ? Origin::slurm : Origin::manual);
                j.done_op = kReserve;
            }
        }
        j.inflight_op = kNone;
        j.ops.fetch_add(1);
    }
}

bool same(const std::vector<Reservation>& a, const std::vector<Reservation>& b) {
    const auto key = [](const Reservation& r) {
        return std::tie(r.origin, r.task_id, r.server, r.gpus, r.gpu_count, r.cpus, r.owner_uid,
                        r.created_unix);
    };
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [&](const Reservation& x, const Reservation& y) { return key(x) == key(y); });
}

const test::StoreUnderTest* g_store = nullptr;

bool on_sqlite() {
    return std::strcmp(g_store->name, "sqlite") == 0;
}

// What users other than root read from SQLite: the status snapshot.
std::vector<Reservation> snapshot_reservations(const Config& config) {
    auto store = sqlite::open_snapshot_store(config);
    BOOST_TEST_REQUIRE(store.ok(), (store.ok() ? "" : store.error().message));
    Ledger ledger(config, std::move(*store));
    auto all = ledger.reservations();
    BOOST_TEST_REQUIRE(all.ok(), (all.ok() ? "" : all.error().message));
    return std::move(*all);
}

}  // namespace

int main(int argc, char* argv[]) {
    return test::store_test_main(argc, argv, "the crash test", g_store);
}

BOOST_AUTO_TEST_CASE(sigkill_at_random_moments_never_leaves_a_half_operation) {
    test::TempDir dir;
    const Config config = test::make_config(dir, R"(
servers:
  - name: n[1-2]
    gpus: 8
    cpus: 64
)" + g_store->state_yaml(dir));
    auto* j = static_cast<Journal*>(::mmap(nullptr, sizeof(Journal), PROT_READ | PROT_WRITE,
                                           MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    BOOST_TEST_REQUIRE(j != MAP_FAILED);
    new (j) Journal{};
    std::mt19937 rng(12345);
    int killed_in_flight = 0;
    for (int round = 0; round < kKills; ++round) {
        BOOST_TEST_CONTEXT("kill " << round) {
            j->inflight_op = kNone;
            j->done_op = kNone;
            const long start_ops = j->ops.load();
            const pid_t pid = ::fork();
            BOOST_TEST_REQUIRE(pid >= 0);
            if (pid == 0) churn(config, *j, static_cast<unsigned>(round));

            // Let it run a random number of operations, then kill it at a random instant
            // inside the next few (the delay is the randomness of the kill, not a wait for
            // a condition).
            const long target = start_ops + 1 + static_cast<long>(rng() % 15);
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
            int status = 0;
            bool exited = false;
            while (j->ops.load() < target && std::chrono::steady_clock::now() < deadline) {
                if (::waitpid(pid, &status, WNOHANG) == pid) {
                    exited = true;
                    break;
                }
                ::sched_yield();
            }
            BOOST_TEST_REQUIRE(!exited, "the churning process died by itself, status " << status);
            const timespec jitter{0, static_cast<long>(rng() % 3000) * 1000L};
            ::nanosleep(&jitter, nullptr);
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            BOOST_TEST_REQUIRE(WIFSIGNALED(status));
            if (j->inflight_op != kNone) ++killed_in_flight;

            // Before anything republishes it, the status snapshot shows each server as of
            // some commit: at most the operation in flight behind the ledger.
            const std::size_t in_snapshot = on_sqlite() ? snapshot_reservations(config).size() : 0;

            auto ledger = open_ledger(config, Ledger::Access::read_write);
            BOOST_TEST_REQUIRE(ledger.ok(), (ledger.ok() ? "" : ledger.error().message));
            const std::size_t in_ledger = (*ledger)->reservations()->size();
            if (on_sqlite()) {
                BOOST_TEST((in_snapshot + 1 >= in_ledger && in_ledger + 1 >= in_snapshot),
                           in_snapshot << " in the snapshot, " << in_ledger << " in the ledger");
            }
            auto problems = (*ledger)->verify();  // also publishes the snapshot again
            BOOST_TEST_REQUIRE(problems.ok());
            BOOST_TEST(problems->empty());
            auto all = (*ledger)->reservations();
            BOOST_TEST_REQUIRE(all.ok());
            BOOST_TEST(check_invariants(config.fleet, *all).empty());
            if (on_sqlite()) BOOST_TEST(same(snapshot_reservations(config), *all));

            // The last committed operation is there, unless the one in flight undid it.
            const bool same_task_in_flight =
                j->inflight_op != kNone && std::strcmp(j->inflight_task, j->done_task) == 0;
            if (j->done_op != kNone && !same_task_in_flight) {
                bool present = false;
                for (const auto& r : *all) {
                    present = present || (r.task_id == j->done_task &&
                                          static_cast<int>(r.origin) == j->done_origin.load());
                }
                BOOST_TEST(present == (j->done_op == kReserve),
                           "last committed op " << j->done_op << " on " << j->done_task);
            }
        }
    }
    BOOST_TEST_MESSAGE(kKills << " kills, " << killed_in_flight << " of them inside an operation, "
                              << j->ops.load() << " operations in all");
    BOOST_TEST(killed_in_flight > kKills / 2);
    ::munmap(j, sizeof(Journal));
}
