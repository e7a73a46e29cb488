// summarize(): the numbers both front-ends show, from a fleet and a list of reservations.
#define BOOST_TEST_MODULE status
#include <boost/test/unit_test.hpp>

#include <ctime>
#include <random>
#include <string>

#include "gpuslots/status.hpp"

using namespace gpuslots;

namespace {

Fleet fleet_of(std::vector<Server> servers) {
    auto f = Fleet::from(std::move(servers));
    BOOST_TEST_REQUIRE(f.ok());
    return std::move(*f);
}

Reservation res(std::string server, std::string id, std::vector<int> gpus, int cpus,
                std::int64_t created = 1) {
    const int count = static_cast<int>(gpus.size());
    return Reservation{
        Origin::manual, std::move(id), std::move(server), std::move(gpus), count, cpus, 0, created};
}

}  // namespace

BOOST_AUTO_TEST_CASE(empty_ledger_is_all_free_in_config_order) {
    const Fleet fleet = fleet_of({{"b", 4, 32}, {"a", 8, 16}});
    const FleetStatus st = summarize(fleet, {});
    BOOST_TEST_REQUIRE(st.servers.size() == 2U);
    BOOST_TEST(st.servers[0].name == "b");
    BOOST_TEST(st.servers[1].name == "a");
    BOOST_TEST(st.totals.gpus_total == 12);
    BOOST_TEST(st.totals.gpus_free == 12);
    BOOST_TEST(st.totals.cpus_total == 48);
    BOOST_TEST(st.totals.cpus_free == 48);
    BOOST_TEST(st.totals.tasks == 0);
    BOOST_TEST(st.removed.empty());
    BOOST_TEST(st.problems.empty());
}

BOOST_AUTO_TEST_CASE(reservations_reduce_free_counts_per_server_and_in_totals) {
    struct Case {
        const char* name;
        std::vector<Reservation> reservations;
        std::vector<int> gpus_free;  // per server
        std::vector<int> cpus_free;
        long long tasks;
    };
    const Fleet fleet = fleet_of({{"s0", 4, 32}, {"s1", 4, 32}});
    const std::vector<Case> cases = {
        {"one task", {res("s0", "t", {0, 1}, 16)}, {2, 4}, {16, 32}, 1},
        {"both servers",
         {res("s0", "a", {3}, 1), res("s1", "b", {0, 1, 2, 3}, 32)},
         {3, 0},
         {31, 0},
         2},
        {"cpu only", {res("s1", "c", {}, 5)}, {4, 4}, {32, 27}, 1},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.name) {
            const FleetStatus st = summarize(fleet, c.reservations);
            long long gpus = 0;
            long long cpus = 0;
            for (std::size_t i = 0; i < 2; ++i) {
                BOOST_TEST(st.servers[i].gpus_free == c.gpus_free[i]);
                BOOST_TEST(st.servers[i].cpus_free == c.cpus_free[i]);
                gpus += c.gpus_free[i];
                cpus += c.cpus_free[i];
            }
            BOOST_TEST(st.totals.gpus_free == gpus);
            BOOST_TEST(st.totals.cpus_free == cpus);
            BOOST_TEST(st.totals.tasks == c.tasks);
            BOOST_TEST(st.problems.empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(tasks_are_listed_oldest_first) {
    const Fleet fleet = fleet_of({{"s", 4, 4}});
    const FleetStatus st = summarize(
        fleet,
        {res("s", "new", {0}, 0, 300), res("s", "old", {1}, 0, 100), res("s", "mid", {2}, 0, 200)});
    BOOST_TEST_REQUIRE(st.servers[0].tasks.size() == 3U);
    BOOST_TEST(st.servers[0].tasks[0].task_id == "old");
    BOOST_TEST(st.servers[0].tasks[1].task_id == "mid");
    BOOST_TEST(st.servers[0].tasks[2].task_id == "new");
}

BOOST_AUTO_TEST_CASE(servers_gone_from_the_config_are_reported_apart_from_totals) {
    const Fleet fleet = fleet_of({{"kept", 4, 4}});
    const FleetStatus st = summarize(
        fleet, {res("gone", "x", {0, 1}, 2), res("gone", "y", {2}, 1), res("kept", "z", {0}, 1)});
    BOOST_TEST(st.totals.gpus_total == 4);
    BOOST_TEST(st.totals.gpus_free == 3);
    BOOST_TEST(st.totals.tasks == 1);
    BOOST_TEST_REQUIRE(st.removed.size() == 1U);
    BOOST_TEST(st.removed[0].name == "gone");
    BOOST_TEST(st.removed[0].tasks.size() == 2U);
    BOOST_TEST(st.problems.empty());
}

BOOST_AUTO_TEST_CASE(holding_more_than_the_config_has_is_a_problem_and_free_stays_at_zero) {
    const Fleet fleet = fleet_of({{"s", 2, 4}});
    const FleetStatus st = summarize(fleet, {res("s", "wide", {0, 1, 2}, 6)});
    BOOST_TEST(st.servers[0].gpus_free == 0);
    BOOST_TEST(st.servers[0].cpus_free == 0);
    BOOST_TEST(st.problems.size() == 2U);  // GPU 2 beyond 2 GPUs; 6 CPUs > 4
}

namespace {

std::string via_gmtime(std::int64_t unix_seconds) {
    const auto t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    BOOST_TEST_REQUIRE(::gmtime_r(&t, &tm) != nullptr);
    char buf[64];
    BOOST_TEST_REQUIRE(std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0U);
    return buf;
}

std::string via_arithmetic(std::int64_t unix_seconds) {
    std::string out;
    append_utc_iso8601(out, unix_seconds);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(reservation_times_print_as_gmtime_would) {
    BOOST_TEST(via_arithmetic(0) == "1970-01-01T00:00:00Z");
    BOOST_TEST(via_arithmetic(1796007656) == "2026-11-30T03:00:56Z");
    BOOST_TEST(via_arithmetic(951782400) == "2000-02-29T00:00:00Z");  // a 400-year leap day
    BOOST_TEST(via_arithmetic(-1) == "1969-12-31T23:59:59Z");
    // Every day boundary (and the second before it) from 1900 to 2200, then random instants
    // up to year 9999: the same text as gmtime_r + strftime.
    for (std::int64_t day = -25567; day <= 84006; ++day) {
        BOOST_TEST_REQUIRE(via_arithmetic(day * 86400) == via_gmtime(day * 86400));
        BOOST_TEST_REQUIRE(via_arithmetic(day * 86400 - 1) == via_gmtime(day * 86400 - 1));
    }
    std::mt19937_64 rng(20261130);
    std::uniform_int_distribution<std::int64_t> any(-2208988800LL, 253402300799LL);
    for (int i = 0; i < 100000; ++i) {
        const std::int64_t t = any(rng);
        BOOST_TEST_REQUIRE(via_arithmetic(t) == via_gmtime(t), "at " << t);
    }
}

// select(): what `status --server / --job / --task` shows.
BOOST_AUTO_TEST_CASE(select_keeps_matching_servers_and_tasks_and_recounts_totals) {
    const Fleet fleet = fleet_of({{"s0", 4, 32}, {"s1", 4, 32}});
    Reservation job = res("s1", "42", {0, 1}, 8);
    job.origin = Origin::slurm;
    Reservation same_id_manual = res("s0", "42", {0}, 1);  // a manual task may be named "42"
    const auto all = [&] {
        return summarize(fleet,
                         {job, same_id_manual, res("s1", "t", {2}, 4), res("gone", "x", {0}, 1)});
    };
    struct Case {
        const char* name;
        StatusFilter filter;
        std::vector<std::string> servers;  // configured, then removed
        std::vector<std::size_t> tasks;    // per server kept
        long long gpus_total;
        long long gpus_free;
    };
    const std::vector<Case> cases = {
        {"no filter", {}, {"s0", "s1", "gone"}, {1, 2, 1}, 8, 4},
        {"one server", {"s1", std::nullopt}, {"s1"}, {2}, 4, 1},
        {"a removed server", {"gone", std::nullopt}, {"gone"}, {1}, 0, 0},
        {"a Slurm job", {std::nullopt, {{Origin::slurm, "42"}}}, {"s1"}, {1}, 4, 1},
        {"a manual task", {std::nullopt, {{Origin::manual, "42"}}}, {"s0"}, {1}, 4, 3},
        {"job on the wrong server", {"s0", {{Origin::slurm, "42"}}}, {}, {}, 0, 0},
        {"unknown job", {std::nullopt, {{Origin::slurm, "7"}}}, {}, {}, 0, 0},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.name) {
            const FleetStatus st = select(all(), c.filter);
            std::vector<std::string> names;
            std::vector<std::size_t> tasks;
            long long kept = 0;
            for (const auto* list : {&st.servers, &st.removed}) {
                for (const auto& s : *list) {
                    names.push_back(s.name);
                    tasks.push_back(s.tasks.size());
                    if (list == &st.servers) kept += static_cast<long long>(s.tasks.size());
                }
            }
            BOOST_TEST(names == c.servers, boost::test_tools::per_element());
            BOOST_TEST(tasks == c.tasks, boost::test_tools::per_element());
            BOOST_TEST(st.totals.gpus_total == c.gpus_total);
            BOOST_TEST(st.totals.gpus_free == c.gpus_free);
            BOOST_TEST(st.totals.tasks == kept);
            if (c.filter.task) {
                for (const auto& s : st.servers) {
                    for (const auto& r : s.tasks) {
                        BOOST_TEST((r.origin == c.filter.task->first));
                        BOOST_TEST(r.task_id == c.filter.task->second);
                    }
                }
            }
        }
    }
}
