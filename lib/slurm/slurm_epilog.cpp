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
//   no record, but the prolog refused the job on     success: nothing was reserved
//   the node (the ledger could not be reached)
//   the ledger cannot be used for a reason that is   the release is kept on the node (durably,
//   not the node's: the database does not answer,    pending_release.hpp) and applied once the
//   its credentials, option file or schema are       ledger answers; a loud log line, success:
//   wrong (ledger_outage())                          no drain, nothing lost
//   ... and the release cannot be kept either        node fault: Slurm drains the node
//   the ledger cannot be opened or written (an       node fault: Slurm drains the node, as a
//   SQLite file, a damaged ledger, locks held past   release that may be lost must be looked at
//   the deadline)
//   the record cannot be read, or removed after      a loud log line; the release goes on from
//   the release                                      the config / a stale record only costs a
//                                                    look at the next prolog
//
// Before its own release, the epilog applies this node's pending releases (of earlier epilogs).
#include <ctime>

#include <fmt/format.h>

#include "gpuslots/pending_release.hpp"
#include "gpuslots/slurm_job.hpp"
#include "gpuslots/slurm_job_files.hpp"
#include "gpuslots/slurm_recovery.hpp"
#include "gpuslots/step_settings.hpp"
#include "gpuslots/storage.hpp"

namespace gpuslots {
namespace {

// The release of `record`'s job could not be applied for want of a usable ledger (`why`):
// kept on the node. Only when it cannot be kept either is it a node fault.
// `dir`: where records live; created here when no prolog made it since boot (/run wiped,
// a job Slurm gave GPUs whose prolog wrote nothing), so that an outage cannot drain the node
// for want of a directory.
HookOutcome keep_pending(const Result<RecordDir>& existing, const std::string& dir,
                         const JobRecord& record, const Error& why) {
    const Result<RecordDir> records =
        existing && existing->path().empty() ? RecordDir::open(dir) : existing;
    if (!records) {
        return HookOutcome{
            true, fmt::format("job {} on {}: cannot release its slots: {}; nor "
                              "keep the release on the node: {}",
                              record.job_id, record.node, why.message, records.error().message)};
    }
    PendingRelease pending{record, static_cast<std::int64_t>(std::time(nullptr)), why.message};
    if (auto kept = records->write_pending(pending); !kept) {
        return HookOutcome{
            true, fmt::format("job {} on {}: cannot release its slots: {}; nor "
                              "keep the release on the node: {}",
                              record.job_id, record.node, why.message, kept.error().message)};
    }
    return HookOutcome{false,
                       fmt::format("job {} on {}: cannot release its slots now: {}; the release "
                                   "is kept in {} and applied once the ledger answers (the node "
                                   "stays in service)",
                                   record.job_id, record.node, why.message, records->path()),
                       true};
}

// `monitoring`: where the GPU job files live (the current config's; none when unknown).
// `pending`: where to keep the release should the ledger be out of reach, with its record.
HookOutcome release_in(const Config& config, const SlurmJob& job, const std::string& whose,
                       const SlurmConfig& monitoring, const Result<RecordDir>& records,
                       const std::string& dir, const JobRecord& record) {
    auto ledger = open_ledger(config, Ledger::Access::read_write);
    if (!ledger && ledger_outage(ledger.error()))
        return keep_pending(records, dir, record, ledger.error());
    if (!ledger) return HookOutcome{true, ledger.error().message};
    auto released = (*ledger)->release(Origin::slurm, job.job_id, job.node);
    // A lost connection may hide a release that was committed: the kept one then finds
    // nothing left to release.
    if (!released && ledger_outage(released.error())) {
        return keep_pending(records, dir, record, released.error());
    }
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
    bool refused_on_node = false;
    if (!records) {
        log.warnings.push_back(records.error().message);
    } else if (auto found = records->read(job.node, job.job_id); !found) {
        log.warnings.push_back(found.error().message);
    } else {
        record = std::move(*found);
        refused_on_node = records->refusal(job.node, job.job_id).has_value();
        if (record || refused_on_node || job.asked_for_slots() || slurm_gave_gpus) {
            PendingOutcome pending = apply_pending_releases(*records, job.node);
            log.notes.insert(log.notes.end(), pending.applied.begin(), pending.applied.end());
            log.warnings.insert(log.warnings.end(), pending.kept.begin(), pending.kept.end());
        }
    }
    HookOutcome out;
    if (record) {
        // The record names the ledger; where the GPU job files go is the config's (best
        // effort: a config that cannot be read leaves them to 'gpuslots gpu-job-files').
        SlurmConfig monitoring;
        if (auto current = load_plugin_config(args)) {
            monitoring = current->slurm;
        } else {
            log.warnings.push_back("GPU job files not updated: " + current.error().message);
        }
        out = release_in(
            config_of(*record), job,
            fmt::format("from {}, as its prolog recorded", ledger_location(record->state)),
            monitoring, records, record_dir_of(args), *record);
    } else if (refused_on_node) {
        out = HookOutcome{false, fmt::format("job {} on {}: nothing to release (its prolog "
                                             "refused it without reaching the ledger)",
                                             job.job_id, job.node)};
    } else if (!job.asked_for_slots() && !slurm_gave_gpus) {
        out = HookOutcome{false, fmt::format("job {}: no slots asked for", job.job_id)};
    } else {
        auto config = load_plugin_config(args);
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
            out = release_in(
                *config, job, "from the configured ledger; its prolog kept no record",
                config->slurm, records, record_dir_of(args),
                JobRecord{job.node, job.job_id, config->source, config->state, std::nullopt});
        }
    }
    // Done with the job on this node (released, or kept as pending): its record and any
    // refusal kept here go.
    if (!out.node_fault && records) {
        for (auto removed : {records->remove(job.node, job.job_id),
                             records->remove_refusal(job.node, job.job_id)}) {
            if (!removed) log.warnings.push_back(removed.error().message);
        }
    }
    out.notes.insert(out.notes.begin(), log.notes.begin(), log.notes.end());
    out.warnings.insert(out.warnings.begin(), log.warnings.begin(), log.warnings.end());
    return out;
}

}  // namespace gpuslots
