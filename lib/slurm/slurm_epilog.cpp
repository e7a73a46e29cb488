// job_epilog: release what the job holds on this node. Failure semantics, on purpose:
//
//   situation                                        outcome
//   no option, no GPU from Slurm's gres/gpu, and      success at once; no file is read (a config
//   no record                                        pushed meanwhile cannot matter)
//   a record (the prolog kept it)                    released from the ledger the record names,
//                                                    whatever the config says now
//   no record, the config unreadable or invalid      a loud log line, success: not a node fault
//                                                    (what the job held, if anything, is left to
//                                                    'gpuslots reconcile')
//   the ledger cannot be opened or written           node fault: Slurm drains the node, as a
//                                                    release that may be lost must be looked at
//   the record cannot be read, or removed after      a loud log line; the release goes on from
//   the release                                      the config / a stale record only costs a
//                                                    look at the next prolog
#include <fmt/format.h>

#include "gpuslots/slurm_job.hpp"
#include "gpuslots/slurm_job_files.hpp"
#include "gpuslots/slurm_recovery.hpp"
#include "gpuslots/storage.hpp"

namespace gpuslots {
namespace {

// `monitoring`: where the GPU job files live (the current config's; none when unknown).
HookOutcome release_in(const Config& config, const SlurmJob& job, const std::string& whose,
                       const SlurmConfig& monitoring) {
    auto ledger = open_ledger(config, Ledger::Access::read_write);
    if (!ledger) return HookOutcome{true, ledger.error().message};
    auto released = (*ledger)->release(Origin::slurm, job.job_id, job.node);
    if (!released) return HookOutcome{true, released.error().message};
    HookOutcome out{
        false, fmt::format("job {} on {}: nothing to release ({})", job.job_id, job.node, whose)};
    if (!released->empty()) {
        const Reservation& r = released->front();
        out.message = fmt::format("job {} on {}: released GPUs [{}] and {} CPUs ({})", job.job_id,
                                  job.node, fmt::join(r.gpus, ","), r.cpus, whose);
    }
    note_job_files(monitoring, **ledger, job.node, out);
    return out;
}

}  // namespace

HookOutcome job_epilog(const PluginArgs& args, const SlurmJob& job) {
    HookOutcome log;
    const bool slurm_gave_gpus = job.slurm_gpus.has_value() && !job.slurm_gpus->empty();
    auto records = RecordDir::open_existing(record_dir_of(args));
    std::optional<JobRecord> record;
    if (!records) {
        log.warnings.push_back(records.error().message);
    } else if (auto found = records->read(job.node, job.job_id); !found) {
        log.warnings.push_back(found.error().message);
    } else {
        record = std::move(*found);
    }
    HookOutcome out;
    if (record) {
        // The record names the ledger; where the GPU job files go is the config's (best
        // effort: a config that cannot be read leaves them to 'gpuslots gpu-job-files').
        SlurmConfig monitoring;
        if (auto current = load_config(resolve_config_path(args.config))) {
            monitoring = current->slurm;
        } else {
            log.warnings.push_back("GPU job files not updated: " + current.error().message);
        }
        out = release_in(
            config_of(*record), job,
            fmt::format("from {}, as its prolog recorded", ledger_location(record->state)),
            monitoring);
        if (!out.node_fault) {
            if (auto removed = records->remove(job.node, job.job_id); !removed) {
                log.warnings.push_back(removed.error().message);
            }
        }
    } else if (!job.asked_for_slots() && !slurm_gave_gpus) {
        out = HookOutcome{false, fmt::format("job {}: no slots asked for", job.job_id)};
    } else {
        auto config = load_config(resolve_config_path(args.config));
        if (!config) {
            out = HookOutcome{false,
                              fmt::format("job {} on {}: cannot release its slots, if it held "
                                          "any: {}; and its prolog kept no record of the ledger "
                                          "it used. Not draining the node for a config error: "
                                          "fix the config, then run 'gpuslots reconcile "
                                          "--server {}'",
                                          job.job_id, job.node, config.error().message, job.node),
                              true};
        } else {
            out = release_in(*config, job, "from the configured ledger; its prolog kept no record",
                             config->slurm);
        }
    }
    out.notes.insert(out.notes.begin(), log.notes.begin(), log.notes.end());
    out.warnings.insert(out.warnings.begin(), log.warnings.begin(), log.warnings.end());
    return out;
}

}  // namespace gpuslots
