// The ledger's contract for exact GPU indices (Request::exact_gpus), on the store under test:
// how the plugin mirrors Slurm's own gres/gpu choice (SLURM_JOB_GPUS) into the ledger. One
// program with test_ledger.cpp, which chooses the store.
#include <boost/test/unit_test.hpp>

#include "unit/ledger_contract.hpp"

using namespace gpuslots;
using namespace gpuslots::contract;

BOOST_FIXTURE_TEST_CASE(exact_indices_are_reserved_as_given, Fixture) {
    auto a = ledger->reserve("gpu-server-0", job("1", 2, 2, {3, 1}));
    BOOST_TEST_REQUIRE(a.ok(), (a.ok() ? "" : a.error().message));
    BOOST_TEST(a->gpus == (std::vector<int>{1, 3}), boost::test_tools::per_element());
    BOOST_TEST(ledger->find(Origin::slurm, "1", "gpu-server-0")->value().gpus == a->gpus,
               boost::test_tools::per_element());
    // The others still get the lowest free indices, around the exact ones.
    auto b = ledger->reserve("gpu-server-0", manual("b", 2, 2));
    BOOST_TEST_REQUIRE(b.ok());
    BOOST_TEST(b->gpus == (std::vector<int>{0, 2}), boost::test_tools::per_element());
    BOOST_TEST(check_invariants(config.fleet, *ledger->reservations()).empty());
}

BOOST_FIXTURE_TEST_CASE(exact_indices_that_are_not_one_distinct_index_per_gpu_are_bad_input,
                        Fixture) {
    struct Case {
        int gpus;
        std::vector<int> exact;
        const char* phrase;
    };
    const Case cases[] = {
        {2, {1}, "name 1 GPU(s) for a request of 2"},
        {1, {0, 1}, "name 2 GPU(s) for a request of 1"},
        {0, {0}, "name 1 GPU(s) for a request of 0"},
        {2, {1, 4}, "GPU index 4 is not on gpu-server-0, whose GPUs are 0..3"},
        {1, {-1}, "GPU index -1 is not on gpu-server-0"},
        {2, {2, 2}, "GPU index 2 is given twice"},
    };
    for (const auto& c : cases) {
        auto r = ledger->reserve("gpu-server-0", job("5", c.gpus, 1, c.exact));
        BOOST_TEST_REQUIRE(!r.ok());
        BOOST_TEST(has(r.error(), Errc::bad_input, c.phrase), r.error().message);
    }
    auto chosen = ledger->allocate(Request{Origin::manual, "m", 1, 1, 0, {0}});
    BOOST_TEST_REQUIRE(!chosen.ok());
    BOOST_TEST(has(chosen.error(), Errc::bad_input, "need a named server"), chosen.error().message);
    BOOST_TEST(ledger->reservations()->empty());
}

BOOST_FIXTURE_TEST_CASE(an_exact_index_held_by_another_is_no_fit_naming_the_holder, Fixture) {
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", job("41", 1, 1, {2})).ok());
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", manual("mine", 1, 1)).ok());  // GPU 0

    auto on_job = ledger->reserve("gpu-server-0", job("42", 2, 1, {1, 2}));
    BOOST_TEST_REQUIRE(!on_job.ok());
    BOOST_TEST(has(on_job.error(), Errc::no_fit, "GPU 2 of gpu-server-0 is held by job 41"),
               on_job.error().message);
    auto on_task = ledger->reserve("gpu-server-0", job("42", 1, 1, {0}));
    BOOST_TEST_REQUIRE(!on_task.ok());
    BOOST_TEST(has(on_task.error(), Errc::no_fit, "is held by task 'mine'"),
               on_task.error().message);
    // Free indices, but not enough CPUs: the usual no-fit message.
    auto cpus = ledger->reserve("gpu-server-0", job("42", 1, 31, {3}));
    BOOST_TEST_REQUIRE(!cpus.ok());
    BOOST_TEST(has(cpus.error(), Errc::no_fit, "30 of 32 CPUs are free"), cpus.error().message);
    BOOST_TEST(ledger->reservations()->size() == 2U);
    // On another server the same indices are free.
    BOOST_TEST(ledger->reserve("gpu-server-1", job("42", 2, 1, {1, 2})).ok());
}

BOOST_FIXTURE_TEST_CASE(a_rerun_prolog_with_exact_indices_must_name_the_same_ones, Fixture) {
    auto first = ledger->reserve("gpu-server-0", job("7", 2, 4, {0, 3}));
    BOOST_TEST_REQUIRE(first.ok());
    auto same = ledger->reserve("gpu-server-0", job("7", 2, 4, {3, 0}));  // any order
    BOOST_TEST_REQUIRE(same.ok());
    BOOST_TEST(same->gpus == first->gpus, boost::test_tools::per_element());
    BOOST_TEST(ledger->reserve("gpu-server-0", job("7", 2, 4)).ok());  // no indices: any

    auto other = ledger->reserve("gpu-server-0", job("7", 2, 4, {0, 1}));
    BOOST_TEST_REQUIRE(!other.ok());
    BOOST_TEST(has(other.error(), Errc::conflict,
                   "job 7 already holds GPUs [0,3] on gpu-server-0, not the GPUs [0,1]"),
               other.error().message);
    auto fewer = ledger->reserve("gpu-server-0", job("7", 1, 4, {0}));
    BOOST_TEST_REQUIRE(!fewer.ok());
    BOOST_TEST(has(fewer.error(), Errc::conflict, "already holds 2 GPUs and 4 CPUs"),
               fewer.error().message);
    BOOST_TEST(ledger->reservations()->size() == 1U);
}
