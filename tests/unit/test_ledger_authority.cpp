// Whose books a ledger keeps (Authority), on every store: a shared store (MariaDB) is the truth
// for every server; an SQLite ledger that the plugin writes on its node is that node's alone,
// and one that only the admin tool writes is the truth for the servers Slurm does not schedule.
// The admin tool must neither show the others as free nor book on them.
#include <algorithm>

#include "gpuslots/boot.hpp"
#include "gpuslots/status.hpp"
#include "unit/ledger_contract.hpp"

using namespace gpuslots;
using namespace gpuslots::contract;

namespace {

// n1 and n2 are scheduled by Slurm (their prologs book their jobs), box is not.
const char* kCluster = R"(
servers:
  - name: n[1-2]
    gpus: 4
    cpus: 8
    slurm: slots
  - name: box
    gpus: 2
    cpus: 8
)";

// What the plugin's prolog on `node` asks for (slurm_job.cpp): a job's slots, on the node itself.
Request prolog(const std::string& job_id, int gpus, int cpus) {
    Request r = job(job_id, gpus, cpus);
    r.on_server = true;
    return r;
}

bool shared() {
    return store().shared;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_ledger_only_the_tool_writes_keeps_the_books_of_unscheduled_servers) {
    TempDir dir;
    const Config config = config_for(dir, kCluster);
    auto ledger = open_rw(config);
    auto authority = ledger->authority();
    BOOST_TEST_REQUIRE(authority.ok(), (authority.ok() ? "" : authority.error().message));
    if (shared()) {
        BOOST_TEST(static_cast<int>(authority->scope) ==
                   static_cast<int>(Authority::Scope::shared));
        BOOST_TEST_REQUIRE(ledger->reserve("n2", manual("nb", 1, 1)).ok());
        return;
    }
    BOOST_TEST(static_cast<int>(authority->scope) ==
               static_cast<int>(Authority::Scope::standalone));
    BOOST_TEST(!authority->covers(*config.fleet.server("n1")));
    BOOST_TEST(authority->covers(*config.fleet.server("box")));

    // n2's jobs are booked by n2's prolog in n2's ledger: booking it here would hand out GPUs
    // that job already has.
    auto refused = ledger->reserve("n2", manual("nb", 1, 1));
    BOOST_TEST_REQUIRE(!refused.ok());
    BOOST_TEST(has(refused.error(), Errc::bad_input, "n2's slots are not booked in this ledger"),
               refused.error().message);
    BOOST_TEST(has(refused.error(), Errc::bad_input, "state.backend: mariadb"),
               refused.error().message);
    // Best fit takes box, the one server this ledger knows, even where n1 would fit better.
    auto placed = ledger->allocate(manual("nb", 2, 8));
    BOOST_TEST_REQUIRE(placed.ok(), (placed.ok() ? "" : placed.error().message));
    BOOST_TEST(placed->server == "box");
    auto none = ledger->allocate(manual("more", 1, 1));
    BOOST_TEST_REQUIRE(!none.ok());
    BOOST_TEST(has(none.error(), Errc::no_fit, "2 server(s) whose books are kept in their own"),
               none.error().message);
    BOOST_TEST(ledger->reservations()->size() == 1U);

    const FleetStatus st = summarize(config.fleet, *ledger->reservations(), *authority);
    BOOST_TEST(!st.servers[0].known);
    BOOST_TEST(st.servers[0].gpus_free == 0);  // never counted as free
    BOOST_TEST(st.servers[2].known);
    BOOST_TEST(st.totals.gpus_total == 2);
    BOOST_TEST(st.totals.gpus_free == 0);
    BOOST_TEST(st.totals.unknown_servers == 2);
}

BOOST_AUTO_TEST_CASE(the_plugin_on_a_node_makes_its_ledger_that_nodes_own) {
    TempDir dir;
    const Config config = config_for(dir, kCluster);
    auto ledger = open_rw(config);
    // slurmd's start on n1 (the reboot rule), then a job's prolog there.
    BOOST_TEST_REQUIRE(ledger->release_before_boot("n1", current_boot_id()).ok());
    auto job1 = ledger->reserve("n1", prolog("101", 2, 2));
    BOOST_TEST_REQUIRE(job1.ok(), (job1.ok() ? "" : job1.error().message));
    auto authority = ledger->authority();
    BOOST_TEST_REQUIRE(authority.ok());
    if (shared()) {
        BOOST_TEST(static_cast<int>(authority->scope) ==
                   static_cast<int>(Authority::Scope::shared));
        BOOST_TEST(ledger->reserve("n2", manual("nb", 1, 1)).ok());
        BOOST_TEST(ledger->reserve("box", manual("nb2", 1, 1)).ok());
        return;
    }
    BOOST_TEST(static_cast<int>(authority->scope) == static_cast<int>(Authority::Scope::node));
    BOOST_TEST(authority->nodes == (std::vector<std::string>{"n1"}),
               boost::test_tools::per_element());
    for (const char* other : {"n2", "box"}) {
        BOOST_TEST(!authority->covers(*config.fleet.server(other)), other);
        auto refused = ledger->reserve(other, manual("nb", 1, 1));
        BOOST_TEST_REQUIRE(!refused.ok());
        BOOST_TEST(has(refused.error(), Errc::bad_input, "is the node ledger of n1"),
                   refused.error().message);
    }
    // A manual booking on the node's own server still works, and never shares a GPU with the
    // job there.
    auto own = ledger->reserve("n1", manual("nb", 2, 1));
    BOOST_TEST_REQUIRE(own.ok(), (own.ok() ? "" : own.error().message));
    BOOST_TEST(own->gpus == (std::vector<int>{2, 3}), boost::test_tools::per_element());
    auto best = ledger->allocate(manual("nb-2", 1, 1));
    BOOST_TEST_REQUIRE(!best.ok());  // n1 is full, and nothing else is known here
    BOOST_TEST(has(best.error(), Errc::no_fit, "were not considered"), best.error().message);

    const FleetStatus st = summarize(config.fleet, *ledger->reservations(), *authority);
    BOOST_TEST(st.servers[0].known);
    BOOST_TEST(st.servers[0].gpus_free == 0);
    BOOST_TEST(!st.servers[1].known);
    BOOST_TEST(!st.servers[2].known);
    BOOST_TEST(st.totals.gpus_total == 4);
    BOOST_TEST(st.totals.unknown_servers == 2);

    // The claim outlives the reservations, a reset, and reopening.
    BOOST_TEST_REQUIRE(ledger->reset().ok());
    ledger.reset();
    auto again = open_rw(config);
    BOOST_TEST(again->authority()->nodes == (std::vector<std::string>{"n1"}),
               boost::test_tools::per_element());
    // A second node's plugin writing the same file (nodes of one host, as in the tests'
    // clusters) makes it the ledger of both.
    BOOST_TEST_REQUIRE(again->reserve("n2", prolog("102", 1, 1)).ok());
    BOOST_TEST(again->authority()->nodes == (std::vector<std::string>{"n1", "n2"}),
               boost::test_tools::per_element());
    BOOST_TEST(again->reserve("n2", manual("nb", 1, 1)).ok());
}

BOOST_AUTO_TEST_CASE(an_all_scheduled_fleet_without_its_nodes_ledger_has_nothing_to_allocate) {
    TempDir dir;
    const Config config = config_for(dir, R"(
servers:
  - name: n[1-2]
    gpus: 4
    cpus: 8
    slurm: slots
)");
    auto ledger = open_rw(config);
    auto r = ledger->allocate(manual("nb", 1, 1));
    if (shared()) {
        BOOST_TEST(r.ok(), (r.ok() ? "" : r.error().message));
        return;
    }
    BOOST_TEST_REQUIRE(!r.ok());
    BOOST_TEST(has(r.error(), Errc::bad_input, "keeps the books of none of the servers"),
               r.error().message);
    BOOST_TEST(ledger->reservations()->empty());
}
