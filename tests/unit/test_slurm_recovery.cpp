// What a node does by itself so that nothing leaks and nothing drains by mistake, without
// Slurm: the epilog releases from the ledger its prolog recorded whatever the config says
// now; a job that reserved nothing needs no config; a moved ledger never hands out GPUs the
// old one holds; jobs of an earlier boot are released at slurmd start and before a refusal.
#define BOOST_TEST_MODULE slurm_recovery
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>

#include "gpuslots/boot.hpp"
#include "gpuslots/job_record.hpp"
#include "gpuslots/slurm_recovery.hpp"
#include "support/fixtures.hpp"

using namespace gpuslots;
using namespace std::chrono_literals;

namespace {

const char* kServers = "servers:\n  - name: n[1-2]\n    gpus: 2\n    cpus: 8\n";

struct Node {
    test::TempDir dir;
    PluginArgs args;
    PrologTiming fast{5ms, 20ms};
    std::string boot_file = dir.file("boot_id");

    Node() {
        push("state:\n  path: state.db\nslurm:\n  prolog_wait_seconds: 1\n");
        args.config = dir.file("gpuslots.yaml");
        args.record_dir = dir.file("records");
        boot("first-boot");
        set_boot_id_file(boot_file);
    }
    ~Node() { set_boot_id_file(""); }

    // A new config on the node, as a config management push would write it.
    void push(const std::string& rest) const {
        test::write_file(dir.file("gpuslots.yaml"), std::string(kServers) + rest);
    }
    void boot(const std::string& id) const { test::write_file(boot_file, id + "\n"); }

    std::unique_ptr<Ledger> ledger(const std::string& file = "state.db") {
        config = test::make_config(dir, std::string(kServers) + "state:\n  path: " + file + "\n");
        auto l = open_ledger(config, Ledger::Access::read_write);
        BOOST_TEST_REQUIRE(l.ok());
        return std::move(*l);
    }
    std::size_t held(const std::string& file = "state.db") {
        return ledger(file)->reservations()->size();
    }

    Config config;
};

SlurmJob job(const std::string& id, std::optional<std::string> gpus,
             std::optional<std::string> cpus = std::nullopt, const std::string& node = "n1") {
    return SlurmJob{id, node, 1000, std::move(gpus), std::move(cpus), std::nullopt};
}

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_invalid_config_pushed_while_a_job_runs_neither_drains_nor_leaks) {
    Node n;
    BOOST_TEST_REQUIRE(!job_prolog(n.args, job("10", "2"), n.fast).node_fault);
    BOOST_TEST(std::filesystem::exists(n.dir.file("records/n1+10.job")));
    n.push("state: [oops\n");
    const HookOutcome out = job_epilog(n.args, job("10", "2"));
    BOOST_TEST(!out.node_fault, out.message);
    BOOST_TEST(has(out.message, "released GPUs [0,1]"), out.message);
    BOOST_TEST(has(out.message, "as its prolog recorded"), out.message);
    BOOST_TEST(!std::filesystem::exists(n.dir.file("records/n1+10.job")));
    BOOST_TEST(n.held() == 0U);
    // Twice is fine too, config or not.
    BOOST_TEST(!job_epilog(n.args, job("10", "2")).node_fault);
}

BOOST_AUTO_TEST_CASE(a_job_that_reserved_nothing_never_needs_the_config_in_its_epilog) {
    Node n;
    std::filesystem::remove(n.dir.file("gpuslots.yaml"));
    for (const SlurmJob& j : {job("11", std::nullopt), job("12", std::nullopt, std::nullopt)}) {
        const HookOutcome out = job_epilog(n.args, j);
        BOOST_TEST(!out.node_fault, out.message);
        BOOST_TEST(!out.loud, out.message);
        BOOST_TEST(out.warnings.empty());
    }
    // A job that asked for slots but whose prolog kept no record (it reserved nothing: the
    // config was broken then too) is logged loudly and the node stays up.
    const HookOutcome asked = job_epilog(n.args, job("13", "1"));
    BOOST_TEST(!asked.node_fault);
    BOOST_TEST(asked.loud);
}

BOOST_AUTO_TEST_CASE(a_follow_job_without_options_is_released_by_its_record) {
    Node n;
    n.push("state:\n  path: state.db\n");
    SlurmJob native = job("14", std::nullopt);
    native.slurm_gpus = "1";
    BOOST_TEST_REQUIRE(!job_prolog(n.args, native, n.fast).node_fault);
    BOOST_TEST(n.held() == 1U);
    n.push("servers: [\n");
    const HookOutcome out = job_epilog(n.args, native);
    BOOST_TEST(!out.node_fault, out.message);
    BOOST_TEST(has(out.message, "released GPUs [1]"), out.message);
    BOOST_TEST(n.held() == 0U);
}

BOOST_AUTO_TEST_CASE(a_moved_ledger_never_hands_out_what_the_old_one_holds) {
    Node n;
    BOOST_TEST_REQUIRE(!job_prolog(n.args, job("20", "2"), n.fast).node_fault);
    n.push("state:\n  path: moved.db\nslurm:\n  prolog_wait_seconds: 1\n");
    // The next job on n1 is refused, naming both ledgers; the new ledger records why.
    const HookOutcome refused = job_prolog(n.args, job("21", "1"), n.fast);
    BOOST_TEST(!refused.node_fault, refused.message);
    BOOST_TEST(has(refused.message, "job 20 holds its slots in " + n.dir.file("state.db")),
               refused.message);
    BOOST_TEST(has(refused.message, "now names " + n.dir.file("moved.db")), refused.message);
    BOOST_TEST(n.held("moved.db") == 0U);
    // Another node is not concerned.
    BOOST_TEST(has(job_prolog(n.args, job("22", "1", std::nullopt, "n2"), n.fast).message,
                   "reserved GPUs [0]"));
    // Job 20's epilog releases from the ledger its prolog used; then n1 takes jobs again.
    const HookOutcome released = job_epilog(n.args, job("20", "2"));
    BOOST_TEST(has(released.message, "released GPUs [0,1]"), released.message);
    BOOST_TEST(n.held("state.db") == 0U);
    BOOST_TEST(!job_epilog(n.args, job("21", "1")).node_fault);
    BOOST_TEST(has(job_prolog(n.args, job("23", "2"), n.fast).message, "reserved GPUs [0,1]"));
}

BOOST_AUTO_TEST_CASE(a_stale_record_does_not_block_a_moved_ledger) {
    Node n;
    BOOST_TEST_REQUIRE(!job_prolog(n.args, job("30", "1"), n.fast).node_fault);
    // The job's reservation went by other means (reconcile, an admin); its record stayed.
    BOOST_TEST_REQUIRE(n.ledger()->release(Origin::slurm, "30", std::string("n1"))->size() == 1U);
    n.push("state:\n  path: moved.db\n");
    BOOST_TEST(has(job_prolog(n.args, job("31", "1"), n.fast).message, "reserved GPUs [0]"));
    BOOST_TEST(!std::filesystem::exists(n.dir.file("records/n1+30.job")));
}

BOOST_AUTO_TEST_CASE(a_record_whose_old_ledger_is_gone_says_how_to_end_the_refusals) {
    Node n;
    BOOST_TEST_REQUIRE(!job_prolog(n.args, job("32", "1"), n.fast).node_fault);
    n.push("state:\n  path: moved.db\nslurm:\n  prolog_wait_seconds: 1\n");
    for (const char* suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(n.dir.file(std::string("state.db") + suffix));
    // Still refused (the GPUs may be in use), but the message names the record to remove.
    const HookOutcome refused = job_prolog(n.args, job("33", "1"), n.fast);
    BOOST_TEST(!refused.node_fault, refused.message);
    BOOST_TEST(has(refused.message, "remove its record from " + n.dir.file("records")),
               refused.message);
    BOOST_TEST(n.held("moved.db") == 0U);
    std::filesystem::remove(n.dir.file("records/n1+32.job"));
    BOOST_TEST(has(job_prolog(n.args, job("34", "1"), n.fast).message, "reserved GPUs [0]"));
}

BOOST_AUTO_TEST_CASE(jobs_of_an_earlier_boot_are_released_before_a_refusal_for_lack_of_room) {
    Node n;
    BOOST_TEST_REQUIRE(!job_prolog(n.args, job("40", "2"), n.fast).node_fault);
    {  // On n1 itself: n1's plugin writes this ledger, so it keeps n1's books and no other's.
        Request manual{Origin::manual, "by-hand", 0, 8, 0, {}};
        BOOST_TEST_REQUIRE(n.ledger()->reserve("n1", manual).ok());
    }
    n.boot("second-boot");  // the node rebooted; job 40 died with it, its epilog never ran
    const HookOutcome out = job_prolog(n.args, job("41", "1"), n.fast);
    BOOST_TEST(!out.node_fault, out.message);
    BOOST_TEST(has(out.message, "reserved GPUs [0]"), out.message);
    BOOST_TEST_REQUIRE(out.notes.size() == 1U);
    BOOST_TEST(out.notes[0].rfind("released job 40's GPUs 0,1 on n1: reserved before this "
                                  "node's boot at ",
                                  0) == 0U,
               out.notes[0]);
    // A manual reservation is never released this way.
    auto all = n.ledger()->reservations();
    BOOST_TEST_REQUIRE(all->size() == 2U);
}

BOOST_AUTO_TEST_CASE(slurmd_start_releases_this_nodes_jobs_of_an_earlier_boot_only) {
    Node n;
    BOOST_TEST_REQUIRE(!job_prolog(n.args, job("50", "1"), n.fast).node_fault);
    BOOST_TEST_REQUIRE(!job_prolog(n.args, job("51", "1", std::nullopt, "n2"), n.fast).node_fault);
    BOOST_TEST(slurmd_start(n.args, "n1").lines.empty());  // same boot: nothing
    n.boot("second-boot");
    BOOST_TEST_REQUIRE(!job_prolog(n.args, job("52", "1"), n.fast).node_fault);  // this boot's
    const StartOutcome out = slurmd_start(n.args, "n1");
    BOOST_TEST(!out.error);
    BOOST_TEST_REQUIRE(out.lines.size() == 1U);
    BOOST_TEST(has(out.lines[0], "released job 50's GPUs 0 on n1"), out.lines[0]);
    std::vector<std::string> left;
    const auto all = n.ledger()->reservations();
    for (const auto& r : *all)
        left.push_back(r.task_id + "@" + r.server);
    BOOST_TEST(left == (std::vector<std::string>{"51@n2", "52@n1"}),
               boost::test_tools::per_element());
    // A broken config or an unknown node never fails slurmd: lines to log.
    BOOST_TEST(slurmd_start(n.args, "not-in-config").lines.empty());
    n.push("servers: [\n");
    const StartOutcome broken = slurmd_start(n.args, "n1");
    BOOST_TEST(broken.error);
    BOOST_TEST_REQUIRE(broken.lines.size() == 1U);
    BOOST_TEST(has(broken.lines[0], "cannot check for reservations made before this boot"));
}

// A reservation is never made without its record (the epilog's guarantee, and what lets the
// steps of jobs without one skip the ledger: gpuslots/step_settings.h): a directory the plugin
// cannot trust refuses GPU jobs, and drains nothing.
BOOST_AUTO_TEST_CASE(an_unsafe_record_directory_refuses_the_job_and_drains_nothing) {
    Node n;
    std::filesystem::create_directory(n.dir.file("records"));
    ::chmod(n.dir.file("records").c_str(), 0777);
    const HookOutcome out = job_prolog(n.args, job("60", "1"), n.fast);
    BOOST_TEST(!out.node_fault, out.message);
    BOOST_TEST(has(out.message, "job 60 refused: its job record cannot be kept on the node"),
               out.message);
    BOOST_TEST(has(out.message, "others may write it (mode 0777)"), out.message);
    BOOST_TEST(!std::filesystem::exists(n.dir.file("records/n1+60.job")));
    BOOST_TEST(n.held() == 0U);
    // The refusal is in the ledger, for the job's tasks; its epilog has nothing to release.
    auto refused = n.ledger()->refusal("n1", "60");
    BOOST_TEST_REQUIRE(refused.ok());
    BOOST_TEST(refused->has_value());
    const HookOutcome end = job_epilog(n.args, job("60", "1"));
    BOOST_TEST(!end.node_fault, end.message);
    BOOST_TEST(has(end.message, "nothing to release"), end.message);
}

// The ledger file moved to the configured path while job 10 runs, and an empty ledger left at
// the old one: the record follows the job to the ledger that holds it, so that its epilog
// releases there and its steps still find a record (gpuslots/step_settings.h).
BOOST_AUTO_TEST_CASE(a_record_follows_its_job_to_the_configured_ledger_that_holds_it) {
    Node n;
    n.ledger("x.db");  // an empty ledger at the old path
    const StateConfig old_state = n.config.state;
    {
        auto y = n.ledger("y.db");  // the configured one now, holding job 10
        Request r{Origin::slurm, "10", 1, 1};
        r.on_server = true;
        BOOST_TEST_REQUIRE(y->reserve("n1", r).ok());
    }
    auto records = RecordDir::open(*n.args.record_dir);
    BOOST_TEST_REQUIRE(records.ok());
    BOOST_TEST_REQUIRE(
        records->write(JobRecord{"n1", "10", "the config then", old_state, std::nullopt}).ok());
    const HookOutcome out = job_prolog(n.args, job("11", "1"), n.fast);
    BOOST_TEST(!out.node_fault, out.message);
    BOOST_TEST(has(out.message, "reserved GPUs [1]"), out.message);
    auto rewritten = records->read("n1", "10");
    BOOST_TEST_REQUIRE(rewritten.ok());
    BOOST_TEST_REQUIRE(rewritten->has_value());
    BOOST_TEST((*rewritten)->state.sqlite.path == n.dir.file("y.db"));
    BOOST_TEST((*rewritten)->held.has_value());
    const HookOutcome end = job_epilog(n.args, job("10", "1"));
    BOOST_TEST(has(end.message, "released GPUs [0]"), end.message);
    BOOST_TEST(n.held("y.db") == 1U);  // job 11's
}

// After a reboot the jobs of the earlier boot have no records (/run was emptied): the step
// settings wait until slurmd's start has released them.
BOOST_AUTO_TEST_CASE(slurmd_start_publishes_the_step_settings_once_dead_jobs_are_released) {
    Node n;
    {
        Request dead{Origin::slurm, "60", 1, 1};
        dead.on_server = true;
        BOOST_TEST_REQUIRE(n.ledger()->reserve("n1", dead).ok());
    }
    n.push("state:\n  path: state.db\n");
    const std::string settings = *n.args.record_dir + "/step-settings";
    n.boot("second-boot");
    const StartOutcome out = slurmd_start(n.args, "n1");
    BOOST_TEST(!out.error);
    BOOST_TEST_REQUIRE(out.lines.size() == 1U);
    BOOST_TEST(has(out.lines[0], "released job 60's GPUs 0 on n1"), out.lines[0]);
    BOOST_TEST(std::filesystem::exists(settings));
}

BOOST_AUTO_TEST_CASE(a_record_round_trips_and_a_torn_one_is_not_a_record) {
    JobRecord r{"n1", "77", "/etc/gpuslots/gpuslots.yaml", {}};
    r.state.sqlite.path = "/var/lib/a b/state.db";
    r.state.sqlite.durability = Durability::normal;
    r.state.busy_timeout = 1234ms;
    r.state.backend = "mariadb";
    r.state.mariadb.host = "db1";
    r.state.mariadb.port = 3307;
    r.state.mariadb.option_file = "/etc/gpuslots/other.cnf";
    r.state.mariadb.write_timeout = 9s;
    const std::string text = encode_record(r);
    auto back = decode_record(text);
    BOOST_TEST_REQUIRE(back.has_value());
    BOOST_TEST(back->state.sqlite.path == "/var/lib/a b/state.db");
    BOOST_TEST((back->state.sqlite.durability == Durability::normal));
    BOOST_TEST(back->state.busy_timeout.count() == 1234);
    BOOST_TEST(back->state.backend == "mariadb");
    BOOST_TEST(back->state.mariadb.host == "db1");
    BOOST_TEST(back->state.mariadb.port == 3307U);
    BOOST_TEST(back->state.mariadb.option_file == "/etc/gpuslots/other.cnf");
    BOOST_TEST(back->state.mariadb.write_timeout.count() == 9);
    BOOST_TEST(back->state.mariadb.database == "gpuslots");
    BOOST_TEST(!decode_record(text.substr(0, text.size() - 4)).has_value());
    BOOST_TEST(!decode_record("gpuslots-job-record 2\nend\n").has_value());
}

BOOST_AUTO_TEST_CASE(a_torn_kept_release_is_not_an_entry_and_breaks_no_hook) {
    Node n;
    JobRecord r{"n1", "80", n.dir.file("gpuslots.yaml"), {}, std::nullopt};
    r.state.sqlite.path = n.dir.file("state.db");
    const std::string whole = encode_pending(PendingRelease{r, 1700000000, "down"});
    BOOST_TEST_REQUIRE(decode_pending(whole).has_value());
    // Cut anywhere, it is not an entry; cut right after the why line (no newline) it once
    // threw out of the hook and drained the node at every GPU job.
    for (std::size_t cut = 0; cut + 1 < whole.size(); ++cut)  // all but the last newline
        BOOST_TEST(!decode_pending(whole.substr(0, cut)).has_value(), cut);
    const std::string torn = "gpuslots-pending-release 1\nsince 1700000000\nwhy down";
    BOOST_TEST(!decode_pending(torn).has_value());
    std::filesystem::create_directories(n.dir.file("records"));
    ::chmod(n.dir.file("records").c_str(), 0700);
    test::write_file(n.dir.file("records/n1+80.release"), torn);
    const HookOutcome out = job_prolog(n.args, job("81", "1"), n.fast);
    BOOST_TEST(!out.node_fault, out.message);
    BOOST_TEST(has(out.message, "reserved GPUs [0]"), out.message);
    BOOST_TEST(!job_epilog(n.args, job("81", "1")).node_fault);
}

BOOST_AUTO_TEST_CASE(check_config_warns_about_jobs_holding_slots_in_another_ledger) {
    Node n;
    BOOST_TEST_REQUIRE(!job_prolog(n.args, job("70", "1"), n.fast).node_fault);
    n.push("state:\n  path: moved.db\n");
    const auto run = [&] {
        return test::run_process(
            {GPUSLOTS_CLI, "--config", n.dir.file("gpuslots.yaml"), "check-config", "--no-slurm",
             "--record-dir", n.dir.file("records")},
            "");
    };
    const test::Run moved = run();
    BOOST_TEST(has(moved.err,
                   "gpuslots: warning: the ledger has moved: job 70 holds its slots "
                   "on n1 in " +
                       n.dir.file("state.db") + ", but the config names " + n.dir.file("moved.db")),
               moved.err);
    // check-config changes nothing: the record is still there, and the job still holds.
    BOOST_TEST(std::filesystem::exists(n.dir.file("records/n1+70.job")));
    BOOST_TEST_REQUIRE(!job_epilog(n.args, job("70", "1")).node_fault);
    BOOST_TEST(!has(run().err, "the ledger has moved"));
}

BOOST_AUTO_TEST_CASE(slurms_own_gpus_are_recorded_once_jobs_of_an_earlier_boot_are_released) {
    Node n;
    SlurmJob before = job("80", std::nullopt);
    before.slurm_gpus = "1";
    BOOST_TEST_REQUIRE(!job_prolog(n.args, before, n.fast).node_fault);
    n.boot("second-boot");
    SlurmJob now = job("81", std::nullopt);
    now.slurm_gpus = "1";
    const HookOutcome out = job_prolog(n.args, now, n.fast);
    BOOST_TEST(has(out.message, "recorded Slurm's GPUs [1]"), out.message);
    BOOST_TEST_REQUIRE(out.notes.size() == 1U);
    BOOST_TEST(has(out.notes[0], "released job 80's GPUs 1 on n1"), out.notes[0]);
}
