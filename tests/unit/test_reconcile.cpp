// reconcile's rules (lib/controller/reconcile.cpp): which reservations stand for nothing, given
// slurmctld's job list. Table-driven; no Slurm and no ledger.
#define BOOST_TEST_MODULE reconcile
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <ostream>

#include "gpuslots/reconcile.hpp"

using namespace gpuslots;

namespace {

constexpr std::int64_t kNow = 1'800'000'000;

Reservation job_on(const std::string& id, const std::string& server, std::int64_t age) {
    return Reservation{Origin::slurm, id, server, {0, 1}, 2, 4, 1000, kNow - age};
}

SlurmJobInfo slurm_job(const std::string& id, const std::string& state, const std::string& nodes) {
    return SlurmJobInfo{id, "job", state, 1000, nodes};
}

struct Case {
    const char* name;
    std::vector<SlurmJobInfo> jobs;  // what slurmctld lists
    std::int64_t age;                // of job 42's reservation on n1
    Verdict verdict;
    Reason reason;
    const char* why;  // a phrase of the judgement's line
};

std::ostream& operator<<(std::ostream& os, const Case& c) {
    return os << c.name;
}

const std::vector<Case> kCases = {
    {"running here",
     {slurm_job("42", "RUNNING", "n[1-2]")},
     3600,
     Verdict::keep,
     Reason::running,
     "job 42 is RUNNING on n1"},
    {"suspended here",
     {slurm_job("42", "SUSPENDED", "n1")},
     3600,
     Verdict::keep,
     Reason::running,
     "SUSPENDED"},
    {"configuring here (prolog running)",
     {slurm_job("42", "CONFIGURING", "n1")},
     3600,
     Verdict::keep,
     Reason::running,
     "CONFIGURING"},
    {"completing here: the epilog releases it",
     {slurm_job("42", "COMPLETING", "n1")},
     3600,
     Verdict::keep,
     Reason::completing,
     "its epilog releases it"},
    {"completed",
     {slurm_job("42", "COMPLETED", "n1")},
     3600,
     Verdict::release,
     Reason::ended,
     "job 42 is COMPLETED"},
    {"cancelled",
     {slurm_job("42", "CANCELLED", "n1")},
     3600,
     Verdict::release,
     Reason::ended,
     "CANCELLED"},
    {"node failure",
     {slurm_job("42", "NODE_FAIL", "n1")},
     3600,
     Verdict::release,
     Reason::ended,
     "NODE_FAIL"},
    {"timed out",
     {slurm_job("42", "TIMEOUT", "n1")},
     3600,
     Verdict::release,
     Reason::ended,
     "TIMEOUT"},
    {"requeued, pending again",
     {slurm_job("42", "PENDING", "")},
     3600,
     Verdict::release,
     Reason::pending,
     "not running on n1"},
    {"requeued and running elsewhere",
     {slurm_job("42", "RUNNING", "n[2-3]")},
     3600,
     Verdict::release,
     Reason::elsewhere,
     "job 42 runs on n[2-3], not on n1"},
    {"completing elsewhere only",
     {slurm_job("42", "COMPLETING", "n2")},
     3600,
     Verdict::release,
     Reason::ended,
     "on other nodes, not on n1"},
    {"unknown to slurmctld",
     {slurm_job("41", "RUNNING", "n1")},
     3600,
     Verdict::release,
     Reason::unknown,
     "slurmctld does not know job 42"},
    {"no jobs at all", {}, 3600, Verdict::release, Reason::unknown, "does not know job 42"},
    {"unknown but within the grace period",
     {},
     299,
     Verdict::keep,
     Reason::young,
     "within the grace period of 300 s"},
    {"ended but within the grace period",
     {slurm_job("42", "COMPLETED", "n1")},
     10,
     Verdict::keep,
     Reason::young,
     "job 42 is COMPLETED, but its reservation is 10 s old"},
    {"made in the future (clock step): young", {}, -50, Verdict::keep, Reason::young, "0 s old"},
    {"exactly the grace period old", {}, 300, Verdict::release, Reason::unknown, "does not know"},
    {"running here, seen through a second record",
     {slurm_job("42", "PENDING", ""), slurm_job("42", "RUNNING", "n1")},
     3600,
     Verdict::keep,
     Reason::running,
     "RUNNING on n1"},
    {"node list unreadable: kept",
     {slurm_job("42", "RUNNING", "n[3-1]")},
     3600,
     Verdict::keep,
     Reason::unreadable,
     "cannot be read"},
    {"requeued while completing here",
     {slurm_job("42", "REQUEUED", "n1")},
     3600,
     Verdict::keep,
     Reason::completing,
     "REQUEUED on n1"},
    {"held after a requeue",
     {slurm_job("42", "REQUEUE_HOLD", "")},
     3600,
     Verdict::release,
     Reason::pending,
     "REQUEUE_HOLD"},
};

}  // namespace

BOOST_DATA_TEST_CASE(a_slurm_jobs_reservation_against_slurmctld,
                     boost::unit_test::data::make(kCases), c) {
    ReconcileRules rules;
    rules.now_unix = kNow;
    const auto out = judge({job_on("42", "n1", c.age)}, JobView(c.jobs), rules);
    BOOST_TEST_REQUIRE(out.size() == 1U);
    BOOST_TEST((out[0].verdict == c.verdict), c.name << ": " << out[0].why);
    BOOST_TEST((out[0].reason == c.reason), c.name << ": " << reason_name(out[0].reason));
    BOOST_TEST(out[0].why.find(c.why) != std::string::npos, out[0].why);
}

BOOST_AUTO_TEST_CASE(the_grace_period_is_the_callers) {
    ReconcileRules rules;
    rules.now_unix = kNow;
    rules.grace = std::chrono::seconds(0);
    const auto out = judge({job_on("42", "n1", 0)}, JobView({}), rules);
    BOOST_TEST((out[0].verdict == Verdict::release));
    BOOST_TEST(out[0].job_state == "UNKNOWN");
}

BOOST_AUTO_TEST_CASE(each_node_of_a_job_is_judged_by_itself) {
    ReconcileRules rules;
    rules.now_unix = kNow;
    const JobView jobs({slurm_job("7", "RUNNING", "n2")});
    const auto out = judge({job_on("7", "n1", 600), job_on("7", "n2", 600), job_on("8", "n2", 600)},
                           jobs, rules);
    BOOST_TEST_REQUIRE(out.size() == 3U);
    BOOST_TEST((out[0].verdict == Verdict::release && out[0].reason == Reason::elsewhere));
    BOOST_TEST((out[1].verdict == Verdict::keep && out[1].reason == Reason::running));
    BOOST_TEST((out[2].verdict == Verdict::release && out[2].reason == Reason::unknown));
}

BOOST_AUTO_TEST_CASE(manual_reservations_are_never_released_only_reported_when_old) {
    ReconcileRules rules;
    rules.now_unix = kNow;
    rules.manual_old = std::chrono::hours(24);
    Reservation fresh{Origin::manual, "fresh", "n1", {0}, 1, 1, 0, kNow - 3600};
    Reservation stale{Origin::manual, "stale", "n1", {1}, 1, 1, 0, kNow - 3 * 86400};
    // A manual task whose id looks like an unknown job is still manual.
    Reservation numeric{Origin::manual, "42", "n1", {2}, 1, 1, 0, kNow - 3600};
    const auto out = judge({fresh, stale, numeric}, JobView({}), rules);
    BOOST_TEST_REQUIRE(out.size() == 3U);
    BOOST_TEST((out[0].verdict == Verdict::keep && out[0].reason == Reason::manual));
    BOOST_TEST((out[1].verdict == Verdict::report && out[1].reason == Reason::manual_old));
    BOOST_TEST(out[1].why.find("held for 72 h; release it with 'gpuslots release stale'") !=
                   std::string::npos,
               out[1].why);
    BOOST_TEST((out[2].verdict == Verdict::keep && out[2].reason == Reason::manual));
}

BOOST_AUTO_TEST_CASE(a_manual_reservation_is_released_once_it_has_expired_not_before) {
    ReconcileRules rules;
    rules.now_unix = kNow;
    Reservation lapsing{Origin::manual, "t", "n1", {0}, 1, 1, 0, kNow - 10};
    lapsing.expires_unix = kNow - 8;  // allocated --for 2s, 10 s ago
    Reservation later = lapsing;
    later.task_id = "later";
    later.expires_unix = kNow + 1;
    Reservation at_the_second = lapsing;
    at_the_second.task_id = "now";
    at_the_second.expires_unix = kNow;
    const auto out = judge({lapsing, later, at_the_second}, JobView({}), rules);
    BOOST_TEST_REQUIRE(out.size() == 3U);
    BOOST_TEST((out[0].verdict == Verdict::release && out[0].reason == Reason::expired));
    BOOST_TEST(
        out[0].why == "manual task 't' expired at 2027-01-15T07:59:52Z, 2 s after it was made",
        out[0].why);
    BOOST_TEST((out[1].verdict == Verdict::keep && out[1].reason == Reason::manual));
    BOOST_TEST((out[2].verdict == Verdict::release && out[2].reason == Reason::expired));
    // The grace period is for Slurm jobs' prologs; an expiry is exact.
    rules.grace = std::chrono::hours(1);
    BOOST_TEST((judge({lapsing}, JobView({}), rules)[0].verdict == Verdict::release));
}
