// What a node does by itself so that nothing leaks and nothing drains by mistake: the reboot
// rule (at slurmd start, and before a prolog refuses a job for lack of room), the record each
// prolog keeps for its epilog, and the check that a moved ledger never hands out GPUs that the
// old one still holds for running jobs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gpuslots/config.hpp"
#include "gpuslots/job_record.hpp"
#include "gpuslots/ledger.hpp"
#include "gpuslots/plugstack.hpp"
#include "gpuslots/slurm_job.hpp"

namespace gpuslots {

// record_dir= or kDefaultRecordDir.
std::string record_dir_of(const PluginArgs& args);

// "released job 12's GPUs 0,1 on n1: reserved before this node's boot at 2026-12-03 08:00:12"
std::string released_before_boot_line(const Reservation& r);

// The reboot rule on `node` (Ledger::release_before_boot with this host's boot id): one line
// per released reservation. Errors as the Ledger's.
Result<std::vector<std::string>> release_dead_before_boot(Ledger& ledger, const std::string& node);

// At slurmd start (slurm_spank_init in slurmd's context): this node's pending releases
// (gpuslots/pending_release.hpp), then the reboot rule on this node. Never fails slurmd: every
// problem is a line to log (an error when `error` is set).
struct StartOutcome {
    std::vector<std::string> lines;
    bool error = false;  // the last line says what went wrong
};
StartOutcome slurmd_start(const PluginArgs& args, const std::string& node);

// Before the prolog reserves in `config`'s ledger: the records of other jobs on `node` that
// name another ledger which still holds their reservation there. The reason to refuse the
// job (naming both ledgers), or nullopt. Records whose job holds nothing in its ledger any
// more are stale and removed.
std::optional<std::string> moved_ledger_refusal(const Config& config, const RecordDir& records,
                                                const std::string& node, const std::string& job_id);

}  // namespace gpuslots
