// Many processes against one ledger: 16 workers on 3 servers allocate and release at random
// while a checker samples status. Run once per store (`test_concurrency --store=NAME`, see
// tests/support/stores.hpp); a store that cannot be had here exits 77 (skipped). Fails on any
// double-booked GPU index, any free + reserved != total, any lost reservation; at the end
// everything is free again.
//
// Double booking is detected independently of the ledger: each worker marks the indices it
// got in shared memory with a compare-and-swap (cleared before it releases them in the ledger),
// so two processes that believe they hold the same index collide on the marker.
#define BOOST_TEST_MODULE concurrency
#define BOOST_TEST_NO_MAIN
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <random>

#include "gpuslots/ledger.hpp"
#include "gpuslots/status.hpp"
#include "support/fixtures.hpp"
#include "support/store_main.hpp"

using namespace gpuslots;

namespace {

constexpr int kWorkers = 16;
constexpr int kOpsPerWorker = 80;
constexpr int kServers = 3;
constexpr int kGpus =
    16;  // 48 GPUs for 16 workers holding up to 3 reservations of 1-3: often full, not always
constexpr uid_t kNobody = 65534;

struct Shared {
    std::atomic<int> owner[kServers][kGpus];  // 0 = free, else worker number + 1
    std::atomic<int> double_booked;
    std::atomic<int> wrong_release;
    std::atomic<int> errors;
    std::atomic<int> reserved;
    std::atomic<int> no_fit;
    std::atomic<int> workers_done;
    std::atomic<int> samples;
    std::atomic<int> sample_failures;
    char first_error[512];
};

Shared* map_shared() {
    void* p =
        ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    BOOST_TEST_REQUIRE(p != MAP_FAILED);
    return new (p) Shared{};
}

void note_error(Shared& shm, const std::string& what) {
    if (shm.errors.fetch_add(1) == 0) {
        std::snprintf(shm.first_error, sizeof shm.first_error, "%s", what.c_str());
    }
}

struct Held {
    std::string id;
    Origin origin;
    int server;
    std::vector<int> gpus;
};

int server_index(const std::string& name) {
    return name.back() - '0';
}

void worker(const Config& config, Shared& shm, int me) {
    auto opened = open_ledger(config, Ledger::Access::read_write);
    if (!opened) {
        note_error(shm, opened.error().message);
        return;
    }
    Ledger& ledger = **opened;
    std::mt19937 rng(static_cast<unsigned>(me * 7919 + 17));
    std::vector<Held> held;
    const auto release_one = [&](std::size_t k) {
        Held h = held[k];
        held.erase(held.begin() + static_cast<long>(k));
        for (int g : h.gpus) {
            int expected = me + 1;
            if (!shm.owner[h.server][g].compare_exchange_strong(expected, 0)) {
                shm.double_booked.fetch_add(1);
            }
        }
        auto released = ledger.release(h.origin, h.id, std::nullopt);
        if (!released) return note_error(shm, released.error().message);
        if (released->size() != 1U || released->front().gpus != h.gpus) {
            shm.wrong_release.fetch_add(1);
        }
    };
    for (int op = 0; op < kOpsPerWorker; ++op) {
        if (held.empty() || (held.size() < 3 && rng() % 2 == 0)) {
            const int gpus = 1 + static_cast<int>(rng() % 3);
            const int cpus = static_cast<int>(rng() % 8);
            // Half the time the admin tool's best fit, half the plugin's reserve on a node.
            const bool as_job = rng() % 2 == 0;
            const std::string id = fmt::format("w{}-{}", me, op);
            Result<Reservation> r =
                as_job ? ledger.reserve(fmt::format("node{}", rng() % kServers),
                                        Request{Origin::slurm, id, gpus, cpus, 0})
                       : ledger.allocate(Request{Origin::manual, id, gpus, cpus, 0});
            if (!r) {
                if (r.error().code == Errc::no_fit) {
                    shm.no_fit.fetch_add(1);
                } else {
                    note_error(shm, r.error().message);
                }
                continue;
            }
            shm.reserved.fetch_add(1);
            const int s = server_index(r->server);
            for (int g : r->gpus) {
                int expected = 0;
                if (!shm.owner[s][g].compare_exchange_strong(expected, me + 1)) {
                    shm.double_booked.fetch_add(1);
                }
            }
            held.push_back(Held{id, r->origin, s, r->gpus});
        } else {
            release_one(rng() % held.size());
        }
    }
    while (!held.empty())
        release_one(0);
}

// Samples status until the workers are done; runs as `nobody` when the test runs as root, to
// prove that a user without write access reads a ledger that is being written.
void checker(const Config& config, Shared& shm) {
    if (::geteuid() == 0 && (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0)) {
        return note_error(shm, "cannot drop to nobody");
    }
    auto opened = open_ledger(config, Ledger::Access::read_only);
    if (!opened) return note_error(shm, "checker: " + opened.error().message);
    while (shm.workers_done.load() < kWorkers) {
        auto all = (*opened)->reservations();
        if (!all) {
            note_error(shm, "checker: " + all.error().message);
            continue;
        }
        const auto problems = check_invariants(config.fleet, *all);
        std::vector<int> reserved_gpus(kServers, 0);
        std::vector<int> reserved_cpus(kServers, 0);
        for (const auto& r : *all) {
            reserved_gpus[static_cast<std::size_t>(server_index(r.server))] +=
                static_cast<int>(r.gpus.size());
            reserved_cpus[static_cast<std::size_t>(server_index(r.server))] += r.cpus;
        }
        const FleetStatus st = summarize(config.fleet, std::move(*all));
        bool ok = problems.empty();
        for (std::size_t s = 0; s < st.servers.size(); ++s) {
            ok = ok && st.servers[s].gpus_free + reserved_gpus[s] == st.servers[s].gpus_total &&
                 st.servers[s].cpus_free + reserved_cpus[s] == st.servers[s].cpus_total;
        }
        shm.samples.fetch_add(1);
        if (!ok) shm.sample_failures.fetch_add(1);
    }
}

const test::StoreUnderTest* g_store = nullptr;

}  // namespace

int main(int argc, char* argv[]) {
    return test::store_test_main(argc, argv, "the concurrency test", g_store);
}

BOOST_AUTO_TEST_CASE(sixteen_processes_never_double_book_and_free_everything) {
    test::TempDir dir;
    const Config config = test::make_config(dir, R"(
servers:
  - name: node[0-2]
    gpus: 16
    cpus: 32
)" + std::string(g_store->state_yaml(dir)));
    {
        auto created = open_ledger(config, Ledger::Access::read_write);
        BOOST_TEST_REQUIRE(created.ok());
    }
    Shared* shm = map_shared();

    std::vector<pid_t> workers;
    for (int i = 0; i < kWorkers; ++i) {
        const pid_t pid = ::fork();
        BOOST_TEST_REQUIRE(pid >= 0);
        if (pid == 0) {
            worker(config, *shm, i);
            shm->workers_done.fetch_add(1);
            ::_exit(0);
        }
        workers.push_back(pid);
    }
    const pid_t checker_pid = ::fork();
    BOOST_TEST_REQUIRE(checker_pid >= 0);
    if (checker_pid == 0) {
        checker(config, *shm);
        ::_exit(0);
    }
    for (pid_t pid : workers) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }
    int status = 0;
    ::waitpid(checker_pid, &status, 0);
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));

    BOOST_TEST(shm->errors.load() == 0, shm->first_error);
    BOOST_TEST(shm->double_booked.load() == 0);
    BOOST_TEST(shm->wrong_release.load() == 0);
    BOOST_TEST(shm->sample_failures.load() == 0);
    BOOST_TEST(shm->samples.load() > 5);
    BOOST_TEST(shm->reserved.load() > kWorkers * kOpsPerWorker / 4);
    BOOST_TEST_MESSAGE("reservations made: " << shm->reserved.load()
                                             << ", refused (no fit): " << shm->no_fit.load()
                                             << ", status samples: " << shm->samples.load());

    auto ledger = open_ledger(config, Ledger::Access::read_only);
    BOOST_TEST_REQUIRE(ledger.ok());
    auto all = (*ledger)->reservations();
    BOOST_TEST_REQUIRE(all.ok());
    BOOST_TEST(all->empty());
    BOOST_TEST((*ledger)->verify()->empty());
    const FleetStatus st = summarize(config.fleet, std::move(*all));
    BOOST_TEST(st.totals.gpus_free == st.totals.gpus_total);
    BOOST_TEST(st.totals.cpus_free == st.totals.cpus_total);
    ::munmap(shm, sizeof(Shared));
}
