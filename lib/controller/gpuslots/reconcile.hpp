// Reconcile: which of the ledger's reservations no longer stand for anything, judged against
// what slurmctld says about the jobs. Only the rules live here (no Slurm, no ledger access):
// the admin tool's `reconcile`, `status` and `check-config` feed them a ledger snapshot and
// slurmctld's job list, and act on the verdicts.
//
// The rules, on purpose:
//   - A Slurm job's reservation on node N stands while slurmctld lists that job as holding
//     its nodes (RUNNING, SUSPENDED, CONFIGURING, ...) with N among them, and while it is
//     COMPLETING there (its epilog is about to release it; a node whose slurmd died leaves
//     COMPLETING when Slurm marks it DOWN, and the next run releases it then).
//   - Otherwise (finished, cancelled, failed, pending again after a requeue, running on other
//     nodes, or unknown to slurmctld: purged after MinJobAge, or never there) it is released,
//     unless it is younger than the grace period: a prolog may be mid-flight, and a job whose
//     record slurmctld has not shown us yet must not lose its GPUs.
//   - A record whose node list cannot be read keeps its reservations: when in doubt, keep.
//   - Manual reservations are released only once they have expired (allocate --for, or
//     manual.expire_after); before that they are reported when old, never touched.
//   - The caller reads the ledger first and asks slurmctld after: a reservation in the
//     snapshot was then made before slurmctld was asked, so a job that was being started then
//     is already RUNNING in slurmctld's answer. It releases each verdict with
//     Ledger::release_if_unchanged, so a reservation made again since is left alone.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gpuslots/reservation.hpp"
#include "gpuslots/slurm_controller.hpp"

namespace gpuslots {

// slurmctld's jobs, indexed by job id, each with its node list expanded.
class JobView {
  public:
    explicit JobView(const std::vector<SlurmJobInfo>& jobs);

    struct Record {
        std::string state;
        std::vector<std::string> nodes;  // expanded
        bool nodes_readable = true;
    };
    // Every record with this id (an array's pending remainder may share its first task's).
    const std::vector<Record>* find(const std::string& job_id) const;

  private:
    std::map<std::string, std::vector<Record>> jobs_;
};

struct ReconcileRules {
    std::int64_t now_unix = 0;
    std::chrono::seconds grace{300};         // Slurm reservations younger than this stay
    std::chrono::seconds manual_old{86400};  // manual reservations older than this are reported
};

enum class Verdict {
    keep,     // stands: the job holds it, or it is too young to judge, or in doubt
    release,  // stands for nothing: release it
    report,   // a manual reservation that is old: tell the admin, touch nothing
};

// Why, as one word for JSON and scripts.
enum class Reason {
    running,     // the job holds its nodes, this one among them
    completing,  // the job is COMPLETING here: its epilog releases it
    young,       // younger than the grace period
    unreadable,  // slurmctld's record of the job cannot be read
    ended,       // slurmctld lists the job as ended (COMPLETED, CANCELLED, FAILED, ...)
    pending,     // the job waits in the queue again (requeued)
    elsewhere,   // the job runs, on other nodes
    unknown,     // slurmctld does not know the job
    manual,      // a manual reservation that has not expired: not reconcile's to release
    manual_old,  // a manual reservation older than rules.manual_old
    expired,     // a manual reservation past its expiry (allocate --for)
};
const char* reason_name(Reason reason);

struct Judgement {
    Reservation reservation;
    Verdict verdict = Verdict::keep;
    Reason reason = Reason::running;
    std::string job_state;  // what slurmctld says ("COMPLETED", "UNKNOWN"), for Slurm jobs
    std::string why;        // one line: "job 42 is COMPLETED", "job 42 runs on n2, not n1"
};

// slurmctld's jobs, asked through `slurm`. Who is not root may be shown only their own jobs
// (PrivateData=jobs): then every other job would look unknown, so that is an error (config)
// rather than a view. Errors: those of SlurmController::jobs().
Result<std::vector<SlurmJobInfo>> ask_jobs(const SlurmController& slurm, bool root);

// One judgement per reservation, in the order given.
std::vector<Judgement> judge(const std::vector<Reservation>& reservations, const JobView& jobs,
                             const ReconcileRules& rules);

}  // namespace gpuslots
