// A database outage never drains a node and never loses a release (gpuslots/pending_release.hpp),
// against a real MariaDB server of this program's own (tests/support/mariadb_server.sh start,
// then pause / resume it between the hooks): the shared fixture's server is never stopped, so
// the other MariaDB tests are not disturbed. The hooks run as job_prolog / job_epilog /
// slurmd_start call them, without Slurm. Without mariadb-server the program exits 77 (skipped,
// with the reason).
#define BOOST_TEST_MODULE outage
#define BOOST_TEST_NO_MAIN
#include <signal.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "gpuslots/ledger.hpp"
#include "gpuslots/pending_release.hpp"
#include "gpuslots/slurm_job.hpp"
#include "gpuslots/slurm_recovery.hpp"
#include "gpuslots/storage.hpp"
#include "mariadb_db.hpp"
#include "support/fixtures.hpp"

using namespace gpuslots;
using namespace std::chrono_literals;
using gpuslots::test::TempDir;

namespace {

const std::string kScript = std::string(GPUSLOTS_SOURCE_DIR) + "/tests/support/mariadb_server.sh";

// This program's own server, started once; `pause` stops mariadbd (its socket goes), `resume`
// starts it again on the same data.
class DbServer {
  public:
    static DbServer& instance() {
        static DbServer s;
        return s;
    }
    std::string dir() const { return home_.file("m"); }
    std::string file(const std::string& name) const { return dir() + "/" + name; }
    std::optional<std::string> unavailable() const { return unavailable_; }
    void pause() { BOOST_TEST_REQUIRE(script("pause") == 0); }
    void resume() { BOOST_TEST_REQUIRE(script("resume") == 0); }
    pid_t pid() const { return static_cast<pid_t>(std::stol(test::read_file(file("mysqld.pid")))); }
    ~DbServer() { script("stop"); }

  private:
    DbServer() {
        if (script("start") != 0) {
            unavailable_ = "tests/support/mariadb_server.sh start failed";
        } else if (auto why = test::read_file(file("unavailable")); !why.empty()) {
            unavailable_ = why.substr(0, why.find('\n'));
        }
    }
    int script(const char* what) const {
        return test::run_process({"/bin/sh", kScript, what, dir()}).exit_code;
    }
    TempDir home_;  // short: the socket path must fit in sun_path
    std::optional<std::string> unavailable_;
};

// Two nodes of 2 GPUs and 8 CPUs; a ledger of its own on the server; time-outs of 1 s.
struct Site {
    TempDir dir;
    Config config;
    PluginArgs args;
    PrologTiming fast{5ms, 20ms};

    Site() {
        DbServer& server = DbServer::instance();
        std::string name = dir.path().filename().string();
        name = "gt_" + name.substr(name.rfind('-') + 1);
        Config admin;
        admin.state.backend = "mariadb";
        admin.state.mariadb.socket = server.file("mysqld.sock");
        admin.state.mariadb.database = name;
        StoreInit how;
        how.admin_option_file = server.file("admin.cnf");
        how.reader = "gpuslots_ro";
        auto made = init_store(admin, how);
        BOOST_TEST_REQUIRE(made.ok(), (made.ok() ? "" : made.error().message));
        config = test::make_config(dir,
                                   "servers:\n  - name: n[1-2]\n    gpus: 2\n    cpus: 8\n"
                                   "slurm:\n  prolog_wait_seconds: 1\n"
                                   "state:\n  backend: mariadb\n  mariadb:\n    database: " +
                                       name + "\n    socket: " + server.file("mysqld.sock") +
                                       "\n    option_file: " + server.file("db.cnf") +
                                       "\n    read_option_file: " + server.file("read.cnf") +
                                       "\n    connect_timeout_s: 1\n    read_timeout_s: 2\n"
                                       "    write_timeout_s: 2\n");
        args.config = dir.file("gpuslots.yaml");
        args.record_dir = dir.file("records");
    }

    std::unique_ptr<Ledger> ledger() {
        auto l = open_ledger(config, Ledger::Access::read_write);
        BOOST_TEST_REQUIRE(l.ok(), (l.ok() ? "" : l.error().message));
        return std::move(*l);
    }
    RecordDir records() {
        auto r = RecordDir::open(*args.record_dir);
        BOOST_TEST_REQUIRE(r.ok());
        return std::move(*r);
    }
    std::size_t pending() { return records().pending(std::nullopt).size(); }
    std::vector<Reservation> held() {
        auto all = ledger()->reservations();
        BOOST_TEST_REQUIRE(all.ok());
        return *all;
    }
};

SlurmJob job(const std::string& id, const std::string& node, std::optional<std::string> gpus,
             std::optional<std::string> cpus = std::nullopt) {
    return SlurmJob{id, node, 1000, std::move(gpus), std::move(cpus)};
}

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

bool any_has(const std::vector<std::string>& lines, const std::string& part) {
    return std::any_of(lines.begin(), lines.end(), [&](const auto& l) { return has(l, part); });
}

// Every line a hook would log, in one string (for failure messages).
std::string all_lines(const HookOutcome& o) {
    std::string out;
    for (const auto* lines : {&o.warnings, &o.notes})
        for (const auto& l : *lines)
            out += l + " | ";
    return out + o.message;
}

// Resumes the server however the test ends.
struct Resume {
    ~Resume() {
        if (!std::filesystem::exists(DbServer::instance().file("mysqld.pid"))) {
            DbServer::instance().resume();
        }
    }
};

}  // namespace

int main(int argc, char* argv[]) {
    if (auto why = DbServer::instance().unavailable()) {
        std::printf("SKIP: the database outage tests cannot run here: %s\n", why->c_str());
        return 77;
    }
    return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}

BOOST_AUTO_TEST_CASE(which_errors_are_an_outage_and_which_are_not) {
    for (int code : {2002, 2003, 2005, 2006, 2013, 2055, 1040, 1053, 1129, 1927, 1203, 1226, 1290,
                     1836}) {
        BOOST_TEST(mariadb::unreachable(code), code);
    }
    // A client bug, wrong credentials, a missing schema, a deadlock: not an outage.
    for (int code : {2014, 1045, 1044, 1049, 1146, 1213, 1205, 1062, 0}) {
        BOOST_TEST(!mariadb::unreachable(code), code);
    }
    BOOST_TEST(ledger_outage(Error{Errc::unreachable, ""}));
    BOOST_TEST(ledger_outage(Error{Errc::config, ""}));
    for (Errc code : {Errc::ledger, Errc::busy, Errc::permission, Errc::internal}) {
        BOOST_TEST(!ledger_outage(Error{code, ""}));
    }
}

BOOST_AUTO_TEST_CASE(an_outage_between_prolog_and_epilog_drains_nothing_and_loses_no_release) {
    Site s;
    Resume resume;
    const HookOutcome reserved = job_prolog(s.args, job("10", "n1", "1", "2"), s.fast);
    BOOST_TEST_REQUIRE(!reserved.node_fault, reserved.message);
    BOOST_TEST(has(reserved.message, "reserved GPUs [0] and 2 CPUs"), reserved.message);

    DbServer::instance().pause();
    const HookOutcome epilog = job_epilog(s.args, job("10", "n1", "1", "2"));
    BOOST_TEST(!epilog.node_fault, all_lines(epilog));
    BOOST_TEST(epilog.loud);
    BOOST_TEST(has(epilog.message, "cannot reach the ledger"), epilog.message);
    BOOST_TEST(has(epilog.message, "kept in " + *s.args.record_dir), epilog.message);
    BOOST_TEST_REQUIRE(s.pending() == 1U);
    const PendingRelease kept = s.records().pending("n1").front();
    BOOST_TEST(kept.record.job_id == "10");
    BOOST_TEST_REQUIRE(kept.record.held.has_value());  // the prolog recorded its reservation
    BOOST_TEST(kept.record.held->gpus == std::vector<int>{0}, boost::test_tools::per_element());

    // A new job meanwhile: refused, with the server's name and what to check; no node fault.
    const auto started = std::chrono::steady_clock::now();
    const HookOutcome refused = job_prolog(s.args, job("11", "n1", "1"), s.fast);
    const auto took = std::chrono::steady_clock::now() - started;
    BOOST_TEST(!refused.node_fault, all_lines(refused));
    BOOST_TEST(refused.loud);
    BOOST_TEST(has(refused.message, "job 11 refused: cannot reach the ledger"), refused.message);
    BOOST_TEST(has(refused.message, DbServer::instance().file("mysqld.sock")), refused.message);
    BOOST_TEST(has(refused.message, "check that the database server is up"), refused.message);
    BOOST_TEST(has(refused.message, "the node stays in service"), refused.message);
    BOOST_TEST(refused.message.find('\n') == std::string::npos);
    BOOST_TEST(took < 2s);  // within the connect time-out (1 s) and then some
    BOOST_TEST(any_has(refused.warnings, "job 10's release on n1"), all_lines(refused));
    // Its tasks fail with the reason, read on the node (the ledger does not answer).
    const StepEnvironment step = step_environment(s.args, job("11", "n1", std::nullopt));
    BOOST_TEST_REQUIRE(step.refusal.has_value());
    BOOST_TEST(has(*step.refusal, "cannot reach the ledger"), *step.refusal);

    // The database answers again: the next GPU job's prolog applies the release, once.
    DbServer::instance().resume();
    const HookOutcome next = job_prolog(s.args, job("12", "n1", "2"), s.fast);
    BOOST_TEST_REQUIRE(!next.node_fault, all_lines(next));
    BOOST_TEST(any_has(next.notes, "job 10's release on n1"), all_lines(next));
    BOOST_TEST(any_has(next.notes, "released GPUs [0] and 2 CPUs"), all_lines(next));
    BOOST_TEST(has(next.message, "reserved GPUs [0,1]"), next.message);  // job 10's GPU is free
    BOOST_TEST(s.pending() == 0U);
    auto ten = s.ledger()->find(Origin::slurm, "10", "n1");
    BOOST_TEST_REQUIRE(ten.ok());
    BOOST_TEST(!ten->has_value());
    // Applying again changes nothing.
    const PendingOutcome again = apply_pending_releases(s.records(), std::nullopt);
    BOOST_TEST(again.applied.empty());
    BOOST_TEST(again.kept.empty());
    BOOST_TEST(s.held().size() == 1U);

    // The refused job's epilog: nothing was reserved, nothing is kept; the refusal goes.
    const HookOutcome done = job_epilog(s.args, job("11", "n1", "1"));
    BOOST_TEST(!done.node_fault, done.message);
    BOOST_TEST(has(done.message, "nothing to release"), done.message);
    BOOST_TEST(s.pending() == 0U);
    BOOST_TEST(!s.records().refusal("n1", "11").has_value());
    BOOST_TEST(!job_epilog(s.args, job("12", "n1", "2")).node_fault);
    BOOST_TEST(s.held().empty());
}

BOOST_AUTO_TEST_CASE(an_outage_epilog_without_a_record_directory_keeps_the_release) {
    Site s;
    Resume resume;
    BOOST_TEST_REQUIRE(!job_prolog(s.args, job("15", "n1", "1"), s.fast).node_fault);
    // /run wiped (the directory and its record gone) before the job's epilog, the database down.
    std::filesystem::remove_all(*s.args.record_dir);
    DbServer::instance().pause();
    const HookOutcome epilog = job_epilog(s.args, job("15", "n1", "1"));
    BOOST_TEST(!epilog.node_fault, all_lines(epilog));
    BOOST_TEST(has(epilog.message, "kept in " + *s.args.record_dir), epilog.message);
    DbServer::instance().resume();
    BOOST_TEST_REQUIRE(s.pending() == 1U);
    const PendingOutcome applied = apply_pending_releases(s.records(), std::nullopt);
    BOOST_TEST(applied.applied.size() == 1U);
    BOOST_TEST(s.pending() == 0U);
    BOOST_TEST(s.held().empty());
}

BOOST_AUTO_TEST_CASE(a_server_that_does_not_answer_refuses_the_job_within_the_bound) {
    Site s;
    Resume resume;
    // Stopped, not gone: the socket accepts, nothing answers.
    const pid_t pid = DbServer::instance().pid();
    BOOST_TEST_REQUIRE(::kill(pid, SIGSTOP) == 0);
    const auto started = std::chrono::steady_clock::now();
    const HookOutcome refused = job_prolog(s.args, job("15", "n2", "1"), s.fast);
    const auto took = std::chrono::steady_clock::now() - started;
    ::kill(pid, SIGCONT);
    BOOST_TEST(!refused.node_fault, all_lines(refused));
    BOOST_TEST(has(refused.message, "cannot reach the ledger"), refused.message);
    BOOST_TEST_MESSAGE("prolog against a stopped server took "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                       << " ms (connect_timeout_s 1, read_timeout_s 2)");
    BOOST_TEST(took < 5s);  // connect (1 s) plus one answer (2 s), with room
    BOOST_TEST(s.held().empty());
}

BOOST_AUTO_TEST_CASE(a_pending_release_never_releases_a_newer_reservation_of_a_reused_job_id) {
    Site s;
    Resume resume;
    BOOST_TEST_REQUIRE(!job_prolog(s.args, job("20", "n1", "1"), s.fast).node_fault);
    const Reservation first = s.held().at(0);
    DbServer::instance().pause();
    BOOST_TEST_REQUIRE(!job_epilog(s.args, job("20", "n1", "1")).node_fault);
    DbServer::instance().resume();
    BOOST_TEST_REQUIRE(s.pending() == 1U);

    // Meanwhile job 20 was released elsewhere (reconcile on the head) and Slurm, its ids
    // started again, gave 20 to a later job, which holds the same GPU on n1.
    BOOST_TEST_REQUIRE(s.ledger()->release(Origin::slurm, "20", std::string("n1")).ok());
    Reservation later = first;
    later.created_unix = first.created_unix + 60;
    {
        auto store = open_store(s.config, Access::read_write);
        BOOST_TEST_REQUIRE(store.ok());
        (*store)->begin(Store::Transaction::write);
        (*store)->lock_servers({"n1"});
        (*store)->insert(later);
        (*store)->commit();
    }
    PendingOutcome applied = apply_pending_releases(s.records(), std::string("n1"));
    BOOST_TEST_REQUIRE(applied.applied.size() == 1U);
    BOOST_TEST(has(applied.applied[0], "left the reservation of job 20"), applied.applied[0]);
    BOOST_TEST(s.pending() == 0U);  // done with: the old job holds nothing any more
    auto still = s.ledger()->find(Origin::slurm, "20", "n1");
    BOOST_TEST_REQUIRE(still.ok());
    BOOST_TEST_REQUIRE(still->has_value());
    BOOST_TEST((*still)->created_unix == later.created_unix);

    // A release kept without the reservation (its prolog could not record it) goes by the
    // time its epilog ran: the later reservation is not its job's either.
    PendingRelease by_time{JobRecord{"n1", "20", s.config.source, s.config.state, std::nullopt},
                           later.created_unix - 1, "test"};
    BOOST_TEST_REQUIRE(s.records().write_pending(by_time).ok());
    applied = apply_pending_releases(s.records(), std::nullopt);
    BOOST_TEST_REQUIRE(applied.applied.size() == 1U);
    BOOST_TEST(has(applied.applied[0], "left the reservation"), applied.applied[0]);
    BOOST_TEST(s.held().size() == 1U);
    // ... but one kept after that reservation was made releases it.
    by_time.since_unix = later.created_unix;
    BOOST_TEST_REQUIRE(s.records().write_pending(by_time).ok());
    applied = apply_pending_releases(s.records(), std::nullopt);
    BOOST_TEST_REQUIRE(applied.applied.size() == 1U);
    BOOST_TEST(has(applied.applied[0], "released GPUs [0]"), applied.applied[0]);
    BOOST_TEST(s.held().empty());
}

BOOST_AUTO_TEST_CASE(a_prolog_of_the_same_job_id_waits_for_its_pending_release) {
    Site s;
    Resume resume;
    BOOST_TEST_REQUIRE(!job_prolog(s.args, job("30", "n2", "2"), s.fast).node_fault);
    DbServer::instance().pause();
    BOOST_TEST_REQUIRE(!job_epilog(s.args, job("30", "n2", "2")).node_fault);
    // The same id again (a requeue, or an id Slurm reused) while the release is pending.
    const HookOutcome early = job_prolog(s.args, job("30", "n2", "1"), s.fast);
    BOOST_TEST(!early.node_fault, all_lines(early));
    BOOST_TEST(has(early.message, "release of an earlier job 30 on n2 is still pending"),
               early.message);
    BOOST_TEST(step_environment(s.args, job("30", "n2", std::nullopt)).refusal.has_value());
    DbServer::instance().resume();
    // Once the ledger answers: the old release first, then the new job's own reservation.
    const HookOutcome now = job_prolog(s.args, job("30", "n2", "1"), s.fast);
    BOOST_TEST_REQUIRE(!now.node_fault, all_lines(now));
    BOOST_TEST(any_has(now.notes, "released GPUs [0,1]"), all_lines(now));
    BOOST_TEST(has(now.message, "reserved GPUs [0]"), now.message);
    const auto held = s.held();
    BOOST_TEST_REQUIRE(held.size() == 1U);
    BOOST_TEST(held[0].gpu_count == 1);
    BOOST_TEST(!step_environment(s.args, job("30", "n2", std::nullopt)).refusal.has_value());
}

BOOST_AUTO_TEST_CASE(wrong_credentials_refuse_jobs_and_keep_releases_but_drain_nothing) {
    Site s;
    BOOST_TEST_REQUIRE(!job_prolog(s.args, job("40", "n1", "1"), s.fast).node_fault);
    std::string cnf = test::read_file(DbServer::instance().file("db.cnf"));
    cnf.replace(cnf.find("rw-secret"), 9, "wrong");
    test::write_file(DbServer::instance().file("db.cnf"), cnf);
    const HookOutcome refused = job_prolog(s.args, job("41", "n1", "1"), s.fast);
    const HookOutcome epilog = job_epilog(s.args, job("40", "n1", "1"));
    cnf.replace(cnf.find("wrong"), 5, "rw-secret");
    test::write_file(DbServer::instance().file("db.cnf"), cnf);
    BOOST_TEST(!refused.node_fault, refused.message);
    BOOST_TEST(has(refused.message, "refused the login"), refused.message);
    BOOST_TEST(has(refused.message, DbServer::instance().file("db.cnf")), refused.message);
    BOOST_TEST(!epilog.node_fault, epilog.message);
    BOOST_TEST(s.pending() == 1U);
    // Fixed: slurmd's start applies it.
    const StartOutcome start = slurmd_start(s.args, "n1");
    BOOST_TEST(!start.error);
    BOOST_TEST(any_has(start.lines, "job 40's release on n1"));
    BOOST_TEST(s.pending() == 0U);
    BOOST_TEST(s.held().empty());
}

BOOST_AUTO_TEST_CASE(a_burst_of_jobs_across_an_outage_loses_nothing_and_releases_once) {
    Site s;
    Resume resume;
    // Jobs 100-115 alternate between n1 and n2: 100-103 take 1 GPU each (all four), 104-111
    // 1 CPU each; 112-115 start during the outage.
    std::vector<SlurmJob> jobs;
    for (int i = 0; i < 16; ++i) {
        const std::string node = i % 2 == 0 ? "n1" : "n2";
        jobs.push_back(i < 4 ? job(std::to_string(100 + i), node, "1")
                             : job(std::to_string(100 + i), node, std::nullopt, "1"));
    }
    for (int i = 0; i < 12; ++i) {
        const HookOutcome o = job_prolog(s.args, jobs[i], s.fast);
        BOOST_TEST_REQUIRE(!o.node_fault, o.message);
    }
    BOOST_TEST_REQUIRE(s.held().size() == 12U);

    DbServer::instance().pause();
    int refused = 0;
    for (int i = 12; i < 16; ++i) {  // these start during the outage
        const HookOutcome o = job_prolog(s.args, jobs[i], s.fast);
        BOOST_TEST(!o.node_fault, o.message);
        refused += has(o.message, "refused: cannot reach the ledger");
    }
    BOOST_TEST(refused == 4);
    for (const SlurmJob& j : jobs) {
        const HookOutcome o = job_epilog(s.args, j);
        BOOST_TEST(!o.node_fault, all_lines(o));
    }
    BOOST_TEST(s.pending() == 12U);  // one per job that held something; none for the refused
    DbServer::instance().resume();

    // n1 by slurmd's start, n2 by `gpuslots reconcile` on the host.
    const StartOutcome start = slurmd_start(s.args, "n1");
    BOOST_TEST(!start.error);
    BOOST_TEST(std::count_if(start.lines.begin(), start.lines.end(),
                             [](const auto& l) { return has(l, "released"); }) == 6);
    const test::Run reconcile = test::run_process(
        {GPUSLOTS_CLI, "--config", s.dir.file("gpuslots.yaml"), "reconcile", "--record-dir",
         *s.args.record_dir},
        "", -1, {"PATH=/nonexistent"});  // no slurmctld needed once nothing is held
    BOOST_TEST(reconcile.exit_code == 0, reconcile.out << reconcile.err);
    BOOST_TEST(std::count(reconcile.out.begin(), reconcile.out.end(), '\n') >= 6, reconcile.out);
    BOOST_TEST(has(reconcile.out, "pending release: job 101's release on n2"), reconcile.out);
    BOOST_TEST(s.pending() == 0U);
    BOOST_TEST(s.held().empty());
    // Once: a second pass finds nothing to do.
    BOOST_TEST(apply_pending_releases(s.records(), std::nullopt).applied.empty());
    BOOST_TEST(slurmd_start(s.args, "n2").lines.empty());
}
