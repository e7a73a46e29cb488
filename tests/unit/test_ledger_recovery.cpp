// The ledger's contract, part of test_ledger (one run per store): what each reservation records
// for recovery (the boot id of the host that made it, an optional expiry), kept by every store
// and every way of reading it back.
#include <boost/test/unit_test.hpp>

#include "gpuslots/boot.hpp"
#include "unit/ledger_contract.hpp"

using namespace gpuslots;
using namespace gpuslots::contract;

namespace {

// Points the boot id at a file of the test's own, and back at the kernel's afterwards.
struct BootId {
    std::string file;
    explicit BootId(const TempDir& dir) : file(dir.file("boot_id")) { set_boot_id_file(file); }
    ~BootId() { set_boot_id_file(""); }
    void operator=(const std::string& id) const { test::write_file(file, id + "\n"); }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_reservation_records_its_boot_id_and_expiry, Fixture) {
    BootId boot(dir);
    boot = "11111111-aaaa";
    Request lapsing = manual("lapsing", 1, 2);
    lapsing.expires_unix = 2000000000;
    auto made = ledger->reserve("gpu-server-0", lapsing);
    BOOST_TEST_REQUIRE(made.ok());
    BOOST_TEST(made->boot_id == "11111111-aaaa");
    BOOST_TEST(made->expires_unix.value_or(0) == 2000000000);

    boot = "22222222-bbbb";  // the host rebooted
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", job("7", 1, 1)).ok());

    const auto check = [&](const std::vector<Reservation>& all) {
        BOOST_TEST_REQUIRE(all.size() == 2U);
        BOOST_TEST(all[0].task_id == "lapsing");
        BOOST_TEST(all[0].boot_id == "11111111-aaaa");
        BOOST_TEST(all[0].expires_unix.value_or(0) == 2000000000);
        BOOST_TEST(all[1].task_id == "7");
        BOOST_TEST(all[1].boot_id == "22222222-bbbb");
        BOOST_TEST(!all[1].expires_unix.has_value());
    };
    check(*ledger->reservations());
    auto found = ledger->find(Origin::slurm, "7", "gpu-server-0");
    BOOST_TEST_REQUIRE(found->has_value());
    BOOST_TEST((*found)->boot_id == "22222222-bbbb");
    // Another process reading the same books sees the same.
    auto reader = open_ledger(config, Ledger::Access::read_only);
    BOOST_TEST_REQUIRE(reader.ok());
    check(*(*reader)->reservations());
    // A rerun prolog gets the reservation as it was made, under its first boot id.
    boot = "33333333-cccc";
    auto again = ledger->reserve("gpu-server-0", job("7", 1, 1));
    BOOST_TEST_REQUIRE(again.ok());
    BOOST_TEST(again->boot_id == "22222222-bbbb");
    // A release hands back what was recorded.
    auto released = ledger->release(Origin::manual, "lapsing", std::nullopt);
    BOOST_TEST_REQUIRE(released->size() == 1U);
    BOOST_TEST(released->front().expires_unix.value_or(0) == 2000000000);
}

BOOST_FIXTURE_TEST_CASE(an_unreadable_boot_id_is_recorded_as_unknown, Fixture) {
    BootId boot(dir);  // the file does not exist
    auto made = ledger->reserve("gpu-server-1", job("8", 2, 1));
    BOOST_TEST_REQUIRE(made.ok());
    BOOST_TEST(made->boot_id.empty());
    BOOST_TEST(ledger->reservations()->front().boot_id.empty());
}

BOOST_AUTO_TEST_CASE(the_kernels_boot_id_is_recorded_by_default) {
    TempDir dir;
    const Config config = config_for(dir, kTwoByFour);
    auto ledger = open_rw(config);
    const std::string kernel = test::read_file("/proc/sys/kernel/random/boot_id");
    auto made = ledger->reserve("gpu-server-0", job("9", 1, 1));
    BOOST_TEST_REQUIRE(made.ok());
    BOOST_TEST(!made->boot_id.empty());
    BOOST_TEST(kernel.rfind(made->boot_id, 0) == 0U, kernel << " vs " << made->boot_id);
    BOOST_TEST(current_boot_id() == made->boot_id);
}

BOOST_FIXTURE_TEST_CASE(a_node_releases_its_jobs_reserved_before_its_boot_and_nothing_else,
                        Fixture) {
    BootId boot(dir);
    boot = "old-boot";
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", job("12", 2, 1)).ok());
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", manual("by-hand", 1, 1)).ok());
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-1", job("13", 1, 1)).ok());  // another node
    BOOST_TEST_REQUIRE(ledger->record_refusal("gpu-server-0", "12", "an old refusal").ok());
    boot = "new-boot";
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", job("14", 1, 1)).ok());  // this boot's

    // Nothing is judged without a boot id of our own.
    BOOST_TEST(ledger->release_before_boot("gpu-server-0", "")->empty());
    auto released = ledger->release_before_boot("gpu-server-0", "new-boot");
    BOOST_TEST_REQUIRE(released.ok(), (released.ok() ? "" : released.error().message));
    BOOST_TEST_REQUIRE(released->size() == 1U);
    BOOST_TEST(released->front().task_id == "12");
    BOOST_TEST(released->front().gpus == (std::vector<int>{0, 1}),
               boost::test_tools::per_element());
    BOOST_TEST(!ledger->refusal("gpu-server-0", "12")->has_value());
    std::vector<std::string> left;
    const auto all = ledger->reservations();
    for (const auto& r : *all)
        left.push_back(r.task_id + "@" + r.server);
    BOOST_TEST(left == (std::vector<std::string>{"by-hand@gpu-server-0", "13@gpu-server-1",
                                                 "14@gpu-server-0"}),
               boost::test_tools::per_element());
    // Again: nothing more to do, and nothing written.
    BOOST_TEST(ledger->release_before_boot("gpu-server-0", "new-boot")->empty());
    BOOST_TEST(ledger->verify()->empty());
}

BOOST_FIXTURE_TEST_CASE(a_refusal_names_the_holders_and_those_that_look_dead, Fixture) {
    BootId boot(dir);
    boot = "old-boot";
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", job("102", 3, 0)).ok());
    boot = "new-boot";
    BOOST_TEST_REQUIRE(ledger->reserve("gpu-server-0", job("103", 1, 4)).ok());

    Request more = job("104", 1, 0);
    auto refused = ledger->reserve("gpu-server-0", more);
    BOOST_TEST_REQUIRE(!refused.ok());
    const std::string& m = refused.error().message;
    BOOST_TEST(has(refused.error(), Errc::no_fit, "0 of 4 GPUs"), m);
    BOOST_TEST(m.find("held by job 102 (since ") != std::string::npos, m);
    BOOST_TEST(m.find(", GPUs 0,1,2), job 103 (since ") != std::string::npos, m);
    BOOST_TEST(m.find(", GPUs 3, 4 CPUs)") != std::string::npos, m);
    // The admin tool, elsewhere, cannot tell a boot from another: no verdict.
    BOOST_TEST(m.find("looks dead") == std::string::npos, m);
    // The plugin, on the node itself, can.
    more.on_server = true;
    const std::string on_node = ledger->reserve("gpu-server-0", more).error().message;
    BOOST_TEST(on_node.find("; job 102 looks dead (reserved before this node's boot): run "
                            "'gpuslots reconcile --server gpu-server-0'") != std::string::npos,
               on_node);
    BOOST_TEST(on_node.find("job 103 looks dead") == std::string::npos, on_node);
}

BOOST_FIXTURE_TEST_CASE(a_refusal_stays_short_whatever_the_number_of_holders, Fixture) {
    for (int i = 0; i < 4; ++i) {
        BOOST_TEST_REQUIRE(
            ledger->reserve("gpu-server-1", job(std::to_string(200 + i), 1, 1)).ok());
    }
    for (int i = 0; i < 28; ++i) {
        BOOST_TEST_REQUIRE(
            ledger->reserve("gpu-server-1", manual(std::string(300, 'x') + std::to_string(i), 0, 1))
                .ok());
    }
    auto refused = ledger->reserve("gpu-server-1", manual("one-more", 1, 1));
    BOOST_TEST_REQUIRE(!refused.ok());
    const std::string& m = refused.error().message;
    BOOST_TEST(m.find("and 28 more (see 'gpuslots status')") != std::string::npos, m);
    BOOST_TEST(m.size() < 600U, m);
    // An expired holder looks dead to anyone.
    Request lapsed = manual("lapsed", 0, 1);
    lapsed.expires_unix = 1;
    TempDir other;
    Config small = config_for(other, "servers:\n  - name: s1\n    gpus: 1\n    cpus: 1\n");
    auto l2 = open_rw(small);
    BOOST_TEST_REQUIRE(l2->reserve("s1", lapsed).ok());
    const std::string e = l2->reserve("s1", manual("next", 0, 1)).error().message;
    BOOST_TEST(e.find("task 'lapsed' looks dead (expired at ") != std::string::npos, e);
    BOOST_TEST(e.find("run 'gpuslots reconcile --server s1'") != std::string::npos, e);
}
