// The ledger's contract: every rule, message class and invariant, run against one store per
// run (`test_ledger --store=NAME`, one ctest entry per store: unit.ledger.sqlite, ...). The
// stores are registered in tests/support/stores.hpp; a store whose server cannot be had here
// exits 77 and ctest reports it as skipped. What only one store has (files, schema
// migrations) is tested in that store's own test file (test_sqlite_store.cpp).
#define BOOST_TEST_MODULE ledger contract
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include <cstdio>

#include "gpuslots/status.hpp"
#include "gpuslots/storage.hpp"
#include "support/store_main.hpp"
#include "unit/ledger_contract.hpp"

using namespace gpuslots;
using namespace gpuslots::contract;

namespace {
const test::StoreUnderTest* g_store = nullptr;
}  // namespace

const test::StoreUnderTest& contract::store() {
    return *g_store;
}

int main(int argc, char* argv[]) {
    return test::store_test_main(argc, argv, "the ledger contract", g_store);
}

BOOST_FIXTURE_TEST_CASE(reserve_takes_lowest_free_indices_and_counts_cpus, Fixture) {
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
    BOOST_TEST(ledger->verify()->empty());
}

BOOST_FIXTURE_TEST_CASE(no_fit_on_gpus_or_cpus_leaves_ledger_unchanged, Fixture) {
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", manual("big", 3, 30)).ok());

    auto gpus = ledger->reserve("gpu-server-0", manual("g", 2, 1));
    BOOST_TEST_REQUIRE(!gpus.ok());
    BOOST_TEST(has(gpus.error(), Errc::no_fit, "1 of 4 GPUs"), gpus.error().message);

    auto cpus = ledger->reserve("gpu-server-0", manual("c", 1, 3));
    BOOST_TEST_REQUIRE(!cpus.ok());
    BOOST_TEST(has(cpus.error(), Errc::no_fit, "2 of 32 CPUs"), cpus.error().message);

    BOOST_TEST(ledger->reservations()->size() == 1U);
}

BOOST_FIXTURE_TEST_CASE(requests_that_can_never_fit_are_bad_input, Fixture) {
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

BOOST_FIXTURE_TEST_CASE(manual_task_id_is_reserved_at_most_once_in_the_fleet, Fixture) {
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", manual("t", 1, 1)).ok());
    for (auto attempt : {ledger->reserve("gpu-server-1", manual("t", 1, 1)),
                         ledger->reserve("gpu-server-0", manual("t", 1, 1)),
                         ledger->allocate(manual("t", 1, 1))}) {
        BOOST_TEST_REQUIRE(!attempt.ok());
        BOOST_TEST(has(attempt.error(), Errc::conflict, "gpu-server-0"), attempt.error().message);
    }
    // Job "t" and task "t" live in different name spaces.
    BOOST_TEST(ledger->reserve("gpu-server-0", job("t", 1, 1)).ok());
    BOOST_TEST(ledger->reservations()->size() == 2U);
}

BOOST_FIXTURE_TEST_CASE(slurm_job_once_per_node_and_rerun_prolog_is_idempotent, Fixture) {
    auto first = ledger->reserve("gpu-server-0", job("42", 2, 4));
    BOOST_TEST_REQUIRE(first.ok());
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-1", job("42", 2, 4)).ok());

    auto again = ledger->reserve("gpu-server-0", job("42", 2, 4));
    BOOST_TEST_REQUIRE(again.ok());
    BOOST_TEST(again->gpus == first->gpus, boost::test_tools::per_element());

    auto different = ledger->reserve("gpu-server-0", job("42", 1, 4));
    BOOST_TEST_REQUIRE(!different.ok());
    BOOST_TEST(has(different.error(), Errc::conflict, "already holds 2 GPUs and 4 CPUs"),
               different.error().message);
    BOOST_TEST(ledger->reservations()->size() == 2U);

    // The epilog on one node releases only that node's share.
    auto released = ledger->release(Origin::slurm, "42", std::string("gpu-server-1"));
    BOOST_TEST_REQUIRE(released.ok());
    BOOST_TEST(released->size() == 1U);
    BOOST_TEST(ledger->find(Origin::slurm, "42", "gpu-server-0")->has_value());
    BOOST_TEST(!ledger->find(Origin::slurm, "42", "gpu-server-1")->has_value());
}

BOOST_FIXTURE_TEST_CASE(release_without_a_server_frees_every_node_of_a_job, Fixture) {
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", job("8", 1, 1)).ok());
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-1", job("8", 2, 2)).ok());
    BOOST_TEST_REQUIRE(ledger->record_refusal("gpu-server-1", "8", "earlier try").ok());
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-1", job("9", 1, 1)).ok());
    auto released = ledger->release(Origin::slurm, "8", std::nullopt);
    BOOST_TEST_REQUIRE(released.ok());
    BOOST_TEST_REQUIRE(released->size() == 2U);
    BOOST_TEST(released->at(0).server == "gpu-server-0");  // ordered by server
    BOOST_TEST(released->at(1).gpus == (std::vector<int>{0, 1}), boost::test_tools::per_element());
    BOOST_TEST(!ledger->refusal("gpu-server-1", "8")->has_value());
    auto left = ledger->reservations();
    BOOST_TEST_REQUIRE(left->size() == 1U);
    BOOST_TEST(left->front().task_id == "9");
}

// reconcile decides on a snapshot and releases later: only the very reservation it judged.
BOOST_FIXTURE_TEST_CASE(release_if_unchanged_releases_only_the_reservation_judged, Fixture) {
    auto judged = ledger->reserve("gpu-server-0", job("7", 2, 2));
    BOOST_TEST_REQUIRE(judged.ok());
    BOOST_TEST_REQUIRE(ledger->record_refusal("gpu-server-0", "7", "earlier try").ok());
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-1", job("7", 1, 1)).ok());

    // Made at another time (the job's prolog reserved again since), other GPUs, another
    // server, another origin: each is not the reservation judged, and stays.
    Reservation older = *judged;
    older.created_unix -= 10;
    Reservation other_gpus = *judged;
    other_gpus.gpus = {2, 3};
    Reservation elsewhere = *judged;
    elsewhere.server = "gpu-server-1";
    Reservation manual_one = *judged;
    manual_one.origin = Origin::manual;
    for (const Reservation& r : {older, other_gpus, elsewhere, manual_one}) {
        auto kept = ledger->release_if_unchanged(r);
        BOOST_TEST_REQUIRE(kept.ok());
        BOOST_TEST(!kept->has_value());
    }
    BOOST_TEST(ledger->reservations()->size() == 2U);

    auto released = ledger->release_if_unchanged(*judged);
    BOOST_TEST_REQUIRE(released.ok());
    BOOST_TEST_REQUIRE(released->has_value());
    BOOST_TEST((*released)->gpus == judged->gpus, boost::test_tools::per_element());
    BOOST_TEST(!ledger->refusal("gpu-server-0", "7")->has_value());
    BOOST_TEST(ledger->find(Origin::slurm, "7", "gpu-server-1")->has_value());  // other node
    auto twice = ledger->release_if_unchanged(*judged);
    BOOST_TEST_REQUIRE(twice.ok());
    BOOST_TEST(!twice->has_value());
}

BOOST_FIXTURE_TEST_CASE(release_frees_exactly_what_was_reserved_and_twice_is_harmless, Fixture) {
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

BOOST_FIXTURE_TEST_CASE(release_of_another_users_reservation_is_refused, Fixture) {
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", manual("alice-job", 1, 1, 1001)).ok());
    auto bob = ledger->release(Origin::manual, "alice-job", std::nullopt, 1002U);
    BOOST_TEST_REQUIRE(!bob.ok());
    BOOST_TEST(has(bob.error(), Errc::permission, "belongs to uid 1001"), bob.error().message);
    BOOST_TEST(ledger->reservations()->size() == 1U);
    auto alice = ledger->release(Origin::manual, "alice-job", std::nullopt, 1001U);
    BOOST_TEST_REQUIRE(alice.ok());
    BOOST_TEST(alice->size() == 1U);
}

namespace {

const char* kThreeServers = R"(
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
)";

}  // namespace

BOOST_AUTO_TEST_CASE(allocate_uses_best_fit_with_ties_in_config_order) {
    TempDir dir;
    const Config config = config_for(dir, kThreeServers);
    auto ledger = open_rw(config);
    // All empty: b and c leave 2 free, a leaves 6; b wins the tie by order.
    BOOST_TEST(ledger->allocate(manual("t1", 2, 2))->server == "b");
    // b now leaves 0 free: fullest.
    BOOST_TEST(ledger->allocate(manual("t2", 2, 2))->server == "b");
    // b is full; c (2 left) beats a (6 left).
    BOOST_TEST(ledger->allocate(manual("t3", 2, 2))->server == "c");
    // Only a has room for 5.
    BOOST_TEST(ledger->allocate(manual("t4", 5, 2))->server == "a");
    auto negative = ledger->allocate(manual("t5", -1, 2));
    BOOST_TEST_REQUIRE(!negative.ok());
    BOOST_TEST(has(negative.error(), Errc::bad_input, "can never fit"), negative.error().message);
    auto none = ledger->allocate(manual("t5", 4, 2));
    BOOST_TEST_REQUIRE(!none.ok());
    BOOST_TEST(has(none.error(), Errc::no_fit, "the most free on one server: 3 GPUs"),
               none.error().message);
}

// A store with row locks reads the loads for best fit without locks, so another writer can
// fill the chosen server before its lock is taken. Here the first look is made stale on
// purpose: the ledger must notice under the lock and choose again on fresh loads.
BOOST_AUTO_TEST_CASE(allocate_chooses_again_when_the_chosen_server_filled_up_meanwhile) {
    TempDir dir;
    const Config config = config_for(dir, kThreeServers);
    struct StaleFirstLook : test::ForwardingStore {
        using ForwardingStore::ForwardingStore;
        int looks = 0;
        std::vector<ServerLoad> loads() override {
            // The first look sees b as it was before another writer filled it: empty, and
            // the first choice (b and c leave 2 GPUs free, b comes first).
            if (looks++ == 0) return {};
            return ForwardingStore::loads();
        }
    };
    {
        auto other = open_rw(config);
        BOOST_TEST_REQUIRE(other->reserve("b", manual("filler", 4, 1)).ok());
    }
    auto store = open_store(config, Access::read_write);
    BOOST_TEST_REQUIRE(store.ok());
    auto stale = std::make_unique<StaleFirstLook>(std::move(*store));
    StaleFirstLook& looks = *stale;
    Ledger ledger(config, std::move(stale));
    auto r = ledger.allocate(manual("t", 2, 2));
    BOOST_TEST_REQUIRE(r.ok(), (r.ok() ? "" : r.error().message));
    BOOST_TEST(r->server == "c");  // on fresh loads: b is full, c is fuller than a
    BOOST_TEST(looks.looks == 2);
    BOOST_TEST(ledger.reservations()->size() == 2U);
}

BOOST_FIXTURE_TEST_CASE(reset_releases_everything_and_counts, Fixture) {
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", manual("a", 1, 1)).ok());
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-1", job("5", 1, 1)).ok());
    BOOST_TEST_REQUIRE(ledger->record_refusal("gpu-server-1", "6", "busy").ok());
    auto n = ledger->reset();
    BOOST_TEST_REQUIRE(n.ok());
    BOOST_TEST(*n == 2U);
    BOOST_TEST(ledger->reservations()->empty());
    BOOST_TEST(!ledger->refusal("gpu-server-1", "6")->has_value());
}

BOOST_FIXTURE_TEST_CASE(refusal_is_recorded_per_node_and_cleared_by_release, Fixture) {
    BOOST_TEST_REQUIRE(ledger->record_refusal("gpu-server-0", "77", "no slots").ok());
    BOOST_TEST(ledger->refusal("gpu-server-0", "77")->value_or("") == "no slots");
    BOOST_TEST(!ledger->refusal("gpu-server-1", "77")->has_value());
    BOOST_TEST_REQUIRE(ledger->record_refusal("gpu-server-0", "77", "still no slots").ok());
    BOOST_TEST(ledger->refusal("gpu-server-0", "77")->value_or("") == "still no slots");
    BOOST_TEST_REQUIRE(ledger->release(Origin::slurm, "77", std::string("gpu-server-0")).ok());
    BOOST_TEST(!ledger->refusal("gpu-server-0", "77")->has_value());
}

BOOST_AUTO_TEST_CASE(reservations_survive_reopening) {
    TempDir dir;
    const Config config = config_for(dir, kTwoByFour);
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
    // Read-only means read-only: a change is refused and leaves the books as they were.
    BOOST_TEST(!(*ledger)->reserve("gpu-server-0", manual("new", 1, 1)).ok());
    BOOST_TEST(!(*ledger)->reset().ok());
    BOOST_TEST(open_rw(config)->reservations()->size() == 1U);
}

BOOST_AUTO_TEST_CASE(fleet_changes_need_no_reset) {
    TempDir dir;
    const Config before = config_for(dir, kTwoByFour);
    {
        auto ledger = open_rw(before);
        BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-1", manual("on-1", 2, 2)).ok());
    }
    // gpu-server-1 leaves the config, gpu-server-2 joins; the same ledger.
    const Config after = config_for(dir, R"(
servers:
  - name: gpu-server-0
    gpus: 4
    cpus: 32
  - name: gpu-server-2
    gpus: 8
    cpus: 64
)");
    auto ledger = open_rw(after);
    auto st = summarize(after.fleet, *ledger->reservations());
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
    BOOST_TEST(summarize(after.fleet, *ledger->reservations()).removed.empty());
}

BOOST_AUTO_TEST_CASE(a_server_that_shrank_below_its_holdings_is_a_problem_not_a_reset) {
    TempDir dir;
    const Config before = config_for(dir, kTwoByFour);
    {
        auto ledger = open_rw(before);
        BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", manual("wide", 4, 30)).ok());
    }
    const Config after = config_for(dir, R"(
servers:
  - name: gpu-server-[0-1]
    gpus: 2
    cpus: 16
)");
    auto ledger = open_rw(after);
    auto st = summarize(after.fleet, *ledger->reservations());
    BOOST_TEST(st.servers[0].gpus_free == 0);
    BOOST_TEST(st.servers[0].cpus_free == 0);
    BOOST_TEST(st.problems.size() == 3U);  // GPU 2, GPU 3, and 30 > 16 CPUs
    // Nothing new fits there until the reservation is released.
    BOOST_TEST(!ledger->reserve("gpu-server-0", manual("more", 1, 1)).ok());
    BOOST_TEST(ledger->reservations()->size() == 1U);
}

BOOST_AUTO_TEST_CASE(check_invariants_sees_a_double_booked_index) {
    Fleet fleet = *Fleet::from({Server{"s", 4, 8}});
    Reservation a{Origin::manual, "a", "s", {0, 1}, 2, 1, 0, 1};
    Reservation b{Origin::slurm, "9", "s", {1}, 1, 1, 0, 2};
    auto problems = check_invariants(fleet, {a, b});
    BOOST_TEST_REQUIRE(problems.size() == 1U);
    BOOST_TEST(problems[0].find("GPU 1 of s is held by both") != std::string::npos, problems[0]);
}
