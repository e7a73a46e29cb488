// A database outage never drains a node and never loses a release. When job_epilog cannot use
// the ledger for a reason that is not the node's (the database does not answer within
// state.mariadb's time-outs, or the site's set-up is wrong: credentials, option file, schema),
// it keeps the release on the node (RecordDir::write_pending, fsync'ed with its directory) and
// succeeds. The release is applied, once, as soon as the ledger answers again, by whichever
// comes first on that host:
//   - the next job_prolog or job_epilog on the node of a job that uses gpuslots (a prolog
//     applies its own job id's first, and refuses the job while that one cannot be applied,
//     so that a reused job id never takes over the old job's reservation);
//   - slurmd's start (slurm_spank_init in slurmd's context);
//   - `gpuslots reconcile` on that host (every node's entries in its record dir).
// The admin tool's other commands do not apply them: they usually run elsewhere (the head
// node), and the entries live on the node.
//
// Exactly once: each entry releases only the reservation it names (Ledger::
// release_if_unchanged: the same job, node, time, GPUs and CPUs, checked and erased in one
// transaction) and is removed after; applying it again finds nothing to release. Where the
// prolog could not record the reservation, the entry releases only a reservation of that job on
// that node made no later than the epilog ran: one made after it belongs to a later job with
// the same id (Slurm starts its ids again after its state is wiped).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gpuslots/error.hpp"
#include "gpuslots/job_record.hpp"

namespace gpuslots {

// True when `error` (from opening or using the ledger) is not this node's fault: the database
// cannot be reached (Errc::unreachable) or the site's set-up is wrong (Errc::config). The
// plugin then refuses jobs and keeps releases instead of draining the node.
bool ledger_outage(const Error& error);

// Whether a pending release may release `now`, the reservation its job holds on its node.
bool pending_matches(const PendingRelease& pending, const Reservation& now);

struct PendingOutcome {
    std::vector<std::string> applied;  // one line per entry applied and removed
    std::vector<std::string> kept;     // one line per entry still pending, saying why
    // The job ids whose entry is still pending.
    std::vector<std::string> kept_jobs;
};

// Applies the pending releases of `node` (of every node when nullopt) that `records` holds,
// each in one transaction of the ledger it names, and removes those applied. Never fails: what
// cannot be applied now stays, with a line in `kept`.
PendingOutcome apply_pending_releases(const RecordDir& records,
                                      const std::optional<std::string>& node);

}  // namespace gpuslots
