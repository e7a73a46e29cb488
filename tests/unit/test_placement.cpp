// Placement policy: best fit (the fullest server that still fits, ties by config order) and
// the choice of concrete GPU indices (lowest free first).
#define BOOST_TEST_MODULE placement
#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>
#include <vector>

#include "gpuslots/placement.hpp"

using gpuslots::best_fit;
using gpuslots::lowest_free_gpus;
using gpuslots::ServerUsage;

namespace {

// {gpus_total, cpus_total, gpus_used, cpus_used}
ServerUsage usage(int gpus_total, int cpus_total, int gpus_used, int cpus_used) {
    ServerUsage u;
    u.gpus_total = gpus_total;
    u.cpus_total = cpus_total;
    u.gpus_used = gpus_used;
    u.cpus_used = cpus_used;
    return u;
}

std::string show(const std::optional<std::size_t>& i) {
    return i ? std::to_string(*i) : std::string("none");
}

}  // namespace

BOOST_AUTO_TEST_CASE(server_usage_arithmetic) {
    const ServerUsage u = usage(8, 64, 3, 10);
    BOOST_TEST(u.gpus_free() == 5);
    BOOST_TEST(u.cpus_free() == 54);
    BOOST_TEST(u.fits(5, 54));
    BOOST_TEST(!u.fits(6, 0));
    BOOST_TEST(!u.fits(0, 55));
    BOOST_TEST(u.fits(0, 0));
}

BOOST_AUTO_TEST_CASE(best_fit_picks_the_fullest_server_that_still_fits) {
    struct Case {
        std::string name;
        std::vector<ServerUsage> servers;
        int gpus;
        int cpus;
        std::optional<std::size_t> expected;
    };
    const std::vector<Case> cases = {
        {"empty fleet", {}, 1, 1, std::nullopt},
        {"one empty server", {usage(4, 32, 0, 0)}, 2, 16, 0},
        {"all equal: the first in config order",
         {usage(4, 32, 0, 0), usage(4, 32, 0, 0), usage(4, 32, 0, 0)},
         1,
         1,
         0},
        {"fewest free GPUs after placement wins",
         {usage(4, 32, 0, 0), usage(4, 32, 2, 0), usage(4, 32, 1, 0)},
         1,
         1,
         1},
        {"fuller server is later in the list", {usage(8, 64, 0, 0), usage(8, 64, 6, 0)}, 2, 8, 1},
        {"the fullest does not fit: the next fullest",
         {usage(4, 32, 1, 0), usage(4, 32, 3, 0), usage(4, 32, 2, 0)},
         2,
         1,
         2},
        {"smaller server left fuller than a bigger one",
         {usage(8, 64, 0, 0), usage(2, 64, 0, 0)},
         2,
         4,
         1},
        {"GPU tie broken by fewest free CPUs",
         {usage(4, 32, 2, 0), usage(4, 32, 2, 20), usage(4, 32, 2, 10)},
         1,
         4,
         1},
        {"GPU and CPU tie: the earlier one",
         {usage(4, 32, 0, 0), usage(4, 32, 2, 8), usage(4, 32, 2, 8)},
         1,
         1,
         1},
        {"GPUs free but CPUs short: skipped",
         {usage(4, 32, 3, 0), usage(4, 32, 0, 30), usage(4, 32, 0, 0)},
         1,
         4,
         0},
        {"CPU-bound: only one server has the CPUs",
         {usage(4, 32, 0, 30), usage(4, 32, 0, 31), usage(4, 32, 0, 16)},
         0,
         10,
         2},
        {"CPU-only request packs by free CPUs",
         {usage(4, 32, 0, 8), usage(4, 32, 0, 24), usage(4, 32, 0, 16)},
         0,
         4,
         1},
        {"CPU-only request: fewest free GPUs still comes first",
         {usage(4, 32, 0, 31), usage(4, 32, 4, 0)},
         0,
         1,
         1},
        {"exactly fills a server", {usage(4, 32, 1, 1), usage(4, 32, 0, 0)}, 3, 31, 0},
        {"nothing fits: GPUs", {usage(4, 32, 2, 0), usage(4, 32, 3, 0)}, 3, 1, std::nullopt},
        {"nothing fits: CPUs", {usage(4, 32, 0, 20), usage(4, 32, 0, 30)}, 1, 13, std::nullopt},
        {"nothing fits: larger than any server", {usage(4, 32, 0, 0)}, 5, 1, std::nullopt},
        {"nothing fits: GPUs on one, CPUs on another",
         {usage(4, 32, 0, 32), usage(4, 32, 4, 0)},
         1,
         1,
         std::nullopt},
        {"over-committed server (config shrank) is skipped",
         {usage(2, 32, 4, 0), usage(4, 32, 0, 0)},
         1,
         1,
         1},
        {"zero request fits anywhere: fullest", {usage(4, 32, 0, 0), usage(4, 32, 4, 32)}, 0, 0, 1},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.name) {
            BOOST_TEST(show(best_fit(c.servers, c.gpus, c.cpus)) == show(c.expected));
        }
    }
}

BOOST_AUTO_TEST_CASE(best_fit_packs_a_sequence_of_requests) {
    // Placing requests one after the other keeps whole servers free for large jobs.
    std::vector<ServerUsage> fleet(3, usage(4, 32, 0, 0));
    const std::vector<std::pair<int, int>> requests = {{1, 4}, {1, 4}, {2, 8}, {1, 1}};
    const std::vector<std::size_t> expected = {0, 0, 0, 1};
    for (std::size_t i = 0; i < requests.size(); ++i) {
        BOOST_TEST_CONTEXT("request " << i) {
            auto chosen = best_fit(fleet, requests[i].first, requests[i].second);
            BOOST_TEST_REQUIRE(chosen.has_value());
            BOOST_TEST(*chosen == expected[i]);
            fleet[*chosen].gpus_used += requests[i].first;
            fleet[*chosen].cpus_used += requests[i].second;
        }
    }
    // A four-GPU job still finds a whole server.
    BOOST_TEST(show(best_fit(fleet, 4, 32)) == "2");
}

BOOST_AUTO_TEST_CASE(lowest_free_gpus_cases) {
    struct Case {
        std::string name;
        int total;
        std::vector<int> held;
        int count;
        std::vector<int> expected;
    };
    const std::vector<Case> cases = {
        {"nothing held", 4, {}, 2, {0, 1}},
        {"all of them", 4, {}, 4, {0, 1, 2, 3}},
        {"zero wanted", 4, {}, 0, {}},
        {"fills holes lowest first", 8, {0, 2, 3, 5}, 3, {1, 4, 6}},
        {"held in any order", 4, {3, 0}, 2, {1, 2}},
        {"held twice counts once", 4, {1, 1}, 3, {0, 2, 3}},
        {"held indices beyond total ignored", 4, {4, 7, 100, 1}, 3, {0, 2, 3}},
        {"negative held ignored", 4, {-1}, 4, {0, 1, 2, 3}},
        {"not enough free: what there is", 4, {0, 1, 2}, 2, {3}},
        {"none free", 2, {0, 1}, 1, {}},
        {"no GPUs at all", 0, {}, 1, {}},
        {"more wanted than exist", 3, {}, 5, {0, 1, 2}},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.name) {
            BOOST_TEST(lowest_free_gpus(c.total, c.held, c.count) == c.expected,
                       boost::test_tools::per_element());
        }
    }
}
