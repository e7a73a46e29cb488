#include "gpuslots/slurm_job.hpp"

#include <algorithm>
#include <thread>

#include "gpuslots/pending_release.hpp"
#include "gpuslots/request.hpp"
#include "gpuslots/slurm_gpus.hpp"
#include "gpuslots/slurm_job_files.hpp"
#include "gpuslots/slurm_recovery.hpp"
#include "gpuslots/step_settings.hpp"

namespace gpuslots {
namespace {

std::string join(const std::vector<int>& v) {
    return fmt::format("{}", fmt::join(v, ","));
}

Result<Config> config_for(const PluginArgs& args, PluginConfig* read = nullptr) {
    return load_plugin_config(args, read);
}

// A job refused while the ledger cannot be used for a reason that is not the node's
// (ledger_outage(): the database does not answer, or its credentials or schema are wrong): the
// refusal is kept on the node, where the step hooks read it, and the node stays in service. A
// loud line: every GPU job on the node fails until the ledger answers.
HookOutcome refuse_locally(const PluginArgs& args, const SlurmJob& job, const std::string& reason) {
    HookOutcome out{false,
                    fmt::format("job {} refused: {}; the job fails, the node stays in service",
                                job.job_id, reason),
                    true};
    auto records = RecordDir::open(record_dir_of(args));
    Result<void> kept = records ? records->write_refusal(job.node, job.job_id, reason)
                                : Result<void>(records.error());
    if (!kept) {
        // The step hooks then fail the job's tasks all the same: the ledger does not answer
        // them either, or holds no reservation for a job that asks for slots.
        out.message +=
            fmt::format(" (the refusal could not be kept on the node: {})", kept.error().message);
    }
    return out;
}

// A failure of the ledger in the prolog: a node fault, unless it is an outage (see above).
HookOutcome ledger_failed(const PluginArgs& args, const SlurmJob& job, const Error& error) {
    if (ledger_outage(error)) return refuse_locally(args, job, error.message);
    return HookOutcome{true, error.message};
}

// A job's own problem: recorded so that its tasks fail with the reason; the node stays up.
HookOutcome refuse(Ledger& ledger, const PluginArgs& args, const SlurmJob& job,
                   const std::string& reason) {
    if (auto recorded = ledger.record_refusal(job.node, job.job_id, reason); !recorded) {
        if (ledger_outage(recorded.error())) return refuse_locally(args, job, reason);
        return HookOutcome{true, fmt::format("job {}: {}; and the refusal could not be "
                                             "recorded: {}",
                                             job.job_id, reason, recorded.error().message)};
    }
    return HookOutcome{false, fmt::format("job {} refused: {}", job.job_id, reason)};
}

// In slurmstepd: Slurm's own gres/gpu gave this step GPUs (SLURM_STEP_GPUS / SLURM_JOB_GPUS)
// and set CUDA_VISIBLE_DEVICES & co. itself, possibly in the numbering of a device cgroup;
// gpuslots then leaves them alone. With a reservation, only when it holds exactly Slurm's
// GPUs (as the prolog recorded them); without one, whenever Slurm gave GPUs. (The step's
// variables are the user's to set: the worst a forged one does is keep the user's own
// CUDA_VISIBLE_DEVICES in a job that reserved no GPU, which no variable can enforce.)
bool follows_slurm(const Config& config, const SlurmJob& step, const Reservation* held) {
    if (!step.slurm_gpus || step.slurm_gpus->empty()) return false;
    const Server* server = config.fleet.server(step.node);
    auto given = parse_slurm_gpus(*step.slurm_gpus, server ? server->gpus : kMaxGpusPerServer);
    if (!given) return false;
    return held == nullptr || (!held->gpus.empty() && *given == held->gpus);
}

}  // namespace

Result<SlotRequest> requested_slots(const Config& config, const SlurmJob& job) {
    SlotRequest r;
    if (job.gpu_slots) {
        auto gpus = parse_count(*job.gpu_slots, "--gpu-slots", config.gpus_per_request);
        if (!gpus) return gpus.error();
        r.gpus = *gpus;
    }
    if (job.cpu_slots) {
        auto cpus = parse_count(*job.cpu_slots, "--cpu-slots", config.cpus_per_request);
        if (!cpus) return cpus.error();
        r.cpus = *cpus;
    }
    return r;
}

Result<void> check_option_value(const PluginArgs& args, const std::string& option,
                                const std::string& value) {
    auto config = config_for(args);
    if (!config) {
        return make_error(Errc::config, "cannot check --{}: {}", option, config.error().message);
    }
    const Range allowed =
        option == kGpuOption ? config->gpus_per_request : config->cpus_per_request;
    auto parsed = parse_count(value, "--" + option, allowed);
    if (!parsed) return parsed.error();
    return {};
}

namespace {

HookOutcome prolog_in_ledger(const PluginArgs& args, const SlurmJob& job, PrologTiming timing,
                             HookOutcome& log);

}  // namespace

HookOutcome job_prolog(const PluginArgs& args, const SlurmJob& job, PrologTiming timing) {
    const bool slurm_gave_gpus = job.slurm_gpus.has_value() && !job.slurm_gpus->empty();
    if (!job.asked_for_slots() && !slurm_gave_gpus) {
        return HookOutcome{false, fmt::format("job {}: no slots asked for", job.job_id)};
    }
    HookOutcome log;
    HookOutcome out = prolog_in_ledger(args, job, std::move(timing), log);
    out.notes.insert(out.notes.begin(), log.notes.begin(), log.notes.end());
    out.warnings.insert(out.warnings.begin(), log.warnings.begin(), log.warnings.end());
    return out;
}

namespace {

HookOutcome reserve_in(const Config& config, Ledger& ledger, const PluginArgs& args,
                       const SlurmJob& job, const PrologTiming& timing, HookOutcome& log);

// The prolog of a job that asked for slots (or was given GPUs by Slurm's gres/gpu); lines to
// log on the way go to `log`.
HookOutcome prolog_in_ledger(const PluginArgs& args, const SlurmJob& job, PrologTiming timing,
                             HookOutcome& log) {
    PluginConfig read;
    auto config = config_for(args, &read);
    if (!config) {
        // Not a node fault: a config pushed to every node must not drain them all. slurmstepd
        // cannot read it either, so a job that asked for slots fails with this in its tasks.
        return HookOutcome{false,
                           fmt::format("job {} on {}: reserved nothing: {}; the job cannot get "
                                       "slots here until the config is fixed (the node stays "
                                       "in service)",
                                       job.job_id, job.node, config.error().message),
                           true};
    }
    const bool native = !job.asked_for_slots();
    // This node's pending releases first (gpuslots/pending_release.hpp): this job's own above
    // all, since a job id Slurm hands out again must not find the old job's reservation.
    if (auto records = RecordDir::open_existing(record_dir_of(args))) {
        (void)records->remove_refusal(job.node, job.job_id);  // an earlier job's, same id
        PendingOutcome pending = apply_pending_releases(*records, job.node);
        log.notes.insert(log.notes.end(), pending.applied.begin(), pending.applied.end());
        log.warnings.insert(log.warnings.end(), pending.kept.begin(), pending.kept.end());
        const auto& kept = pending.kept_jobs;
        if (native && std::find(kept.begin(), kept.end(), job.job_id) != kept.end()) {
            // Slurm's gres/gpu job under the id of an earlier job whose release is kept: the
            // ledger would hand it the old reservation back (a rerun prolog), which the kept
            // release then frees while this job runs. It runs on Slurm's GPUs, unrecorded.
            return HookOutcome{
                false,
                fmt::format("job {} on {}: Slurm's gres/gpu gave it GPUs [{}], but the release "
                            "of an earlier job {} on {} is still pending; not recorded, the job "
                            "runs on Slurm's GPUs",
                            job.job_id, job.node, *job.slurm_gpus, job.job_id, job.node),
                true};
        }
        if (!native && std::find(kept.begin(), kept.end(), job.job_id) != kept.end()) {
            return refuse_locally(args, job,
                                  fmt::format("the release of an earlier job {} on {} is still "
                                              "pending (the ledger could not take it), and a "
                                              "job with its id cannot get slots before it is "
                                              "applied; resubmit once the ledger answers",
                                              job.job_id, job.node));
        }
    }
    auto ledger = open_ledger(*config, Ledger::Access::read_write);
    if (!ledger) {
        if (native && ledger_outage(ledger.error())) {
            return HookOutcome{
                false,
                fmt::format("job {} on {}: Slurm's gres/gpu gave it GPUs [{}], but "
                            "{}; not recorded, the job runs on Slurm's GPUs",
                            job.job_id, job.node, *job.slurm_gpus, ledger.error().message),
                true};
        }
        return ledger_failed(args, job, ledger.error());
    }
    // Before this job's record and reservation: every other Slurm reservation here has its
    // record, or the steps of jobs without slots must not take the fast path.
    if (auto line = publish_step_settings(args, read, *config, **ledger, job.node)) {
        log.warnings.push_back(*line);
    }
    HookOutcome out = reserve_in(*config, **ledger, args, job, timing, log);
    if (!out.node_fault) note_job_files(config->slurm, **ledger, job.node, out);
    return out;
}

// prolog_in_ledger once the config and the ledger are open.
HookOutcome reserve_in(const Config& config, Ledger& ledger, const PluginArgs& args,
                       const SlurmJob& job, const PrologTiming& timing, HookOutcome& log) {
    const bool slurm_gave_gpus = job.slurm_gpus.has_value() && !job.slurm_gpus->empty();

    // What the epilog needs, kept before anything is reserved or refused: a reservation is
    // never made without its record (a record without a reservation only costs the epilog a
    // look), and a step of a job with no file here takes the fast path that hides the GPUs
    // without looking in the ledger (gpuslots/step_settings.h). So a job whose record cannot
    // be kept gets no slots: refused (a gpuslots job; not a node fault) or left unrecorded (a
    // native gres/gpu job, whose steps carry Slurm's GPU variables and never take that path).
    auto records = RecordDir::open(record_dir_of(args));
    const JobRecord record{job.node, job.job_id, config.source, config.state, std::nullopt};
    Result<void> written = records ? records->write(record) : Result<void>(records.error());
    const bool recorded = written.ok();
    const bool native = !job.asked_for_slots();
    if (!recorded) {
        const std::string why =
            fmt::format("its job record cannot be kept on the node: {}", written.error().message);
        if (native) {
            return HookOutcome{false, fmt::format("job {} on {}: Slurm's gres/gpu gave it GPUs "
                                                  "[{}], but {}; not recorded, the job runs on "
                                                  "Slurm's GPUs",
                                                  job.job_id, job.node, *job.slurm_gpus, why)};
        }
        // The refusal is also kept on the node where it can be (another file, which may
        // still be written): without any file of the job there, its steps take the fast
        // path and run GPU-less instead of failing with the reason.
        if (records) (void)records->write_refusal(job.node, job.job_id, why);
        return refuse(ledger, args, job, why + "; ask the admin to check the directory");
    }
    if (auto moved = moved_ledger_refusal(config, *records, job.node, job.job_id)) {
        return refuse(ledger, args, job, *moved);
    }
    // The record again, now with the reservation: what a release kept on the node while the
    // ledger is unreachable applies to exactly (pending_release.hpp). Without it, the kept
    // release goes by the time the epilog ran.
    const auto record_held = [&](const Reservation& r) {
        if (!recorded) return;
        JobRecord with = record;
        with.held = r;
        if (auto again = records->write(with); !again) {
            log.warnings.push_back(
                fmt::format("job {} on {}: {}", job.job_id, job.node, again.error().message));
        }
    };

    // A native gres/gpu job (no gpuslots option) is Slurm's: gpuslots records it where it
    // can, and never refuses it (nor drains the node for an outage of the ledger).
    const auto not_recorded = [&](const std::string& why) {
        return HookOutcome{false, fmt::format("job {} on {}: Slurm's gres/gpu gave it GPUs [{}], "
                                              "but {}; not recorded, the job runs on Slurm's "
                                              "GPUs (see 'gpuslots check-config')",
                                              job.job_id, job.node, *job.slurm_gpus, why)};
    };
    const Server* server = config.fleet.server(job.node);
    if (server == nullptr) {
        const std::string why =
            fmt::format("node {} is not in the gpuslots config {}", job.node, config.source);
        if (native) return not_recorded(why);
        return refuse(ledger, args, job, why + "; ask the admin to add it or submit elsewhere");
    }
    SlotRequest slots;
    if (!native) {
        auto asked = requested_slots(config, job);
        if (!asked) return refuse(ledger, args, job, asked.error().message);
        slots = *asked;
    }
    std::vector<int> exact;
    if (slurm_gave_gpus) {
        auto given = parse_slurm_gpus(*job.slurm_gpus, server->gpus);
        if (!given) {
            const std::string why =
                fmt::format("the gpuslots config cannot hold them ({})", given.error().message);
            if (native) return not_recorded(why);
            return refuse(ledger, args, job,
                          fmt::format("Slurm's gres/gpu gave the job GPUs [{}] on {}, but {}; ask "
                                      "the admin to run 'gpuslots check-config'",
                                      *job.slurm_gpus, job.node, why));
        }
        exact = std::move(*given);
        if (job.gpu_slots && static_cast<int>(exact.size()) != slots.gpus) {
            return refuse(ledger, args, job,
                          fmt::format("the job asks for --gpu-slots={} but Slurm's gres/gpu gave "
                                      "it {} GPU(s) [{}] on {}; on nodes where Slurm's gres/gpu "
                                      "manages the GPUs ask for one or the other, not both",
                                      slots.gpus, exact.size(), join(exact), job.node));
        }
        slots.gpus = static_cast<int>(exact.size());
    }
    Request request;
    request.origin = Origin::slurm;
    request.task_id = job.job_id;
    request.gpus = slots.gpus;
    request.cpus = slots.cpus;
    request.owner_uid = job.uid;
    request.exact_gpus = exact;
    request.on_server = true;
    if (native) {
        // No waiting for a job gpuslots does not decide: one try (two, when jobs of an
        // earlier boot of this node held Slurm's GPUs).
        auto r = ledger.reserve(job.node, request);
        if (!r && r.error().code == Errc::no_fit) {
            auto released = release_dead_before_boot(ledger, job.node);
            if (!released && ledger_outage(released.error())) {
                return not_recorded(released.error().message);
            }
            if (!released) return HookOutcome{true, released.error().message};
            if (!released->empty()) {
                log.notes.insert(log.notes.end(), released->begin(), released->end());
                r = ledger.reserve(job.node, request);
            }
        }
        if (r) {
            record_held(*r);
            return HookOutcome{false, fmt::format("job {} on {}: recorded Slurm's GPUs [{}]",
                                                  job.job_id, job.node, join(r->gpus))};
        }
        if (r.error().code == Errc::no_fit || r.error().code == Errc::bad_input ||
            r.error().code == Errc::conflict || ledger_outage(r.error())) {
            return not_recorded("the ledger disagrees: " + r.error().message);
        }
        return HookOutcome{true, r.error().message};
    }
    const auto deadline = std::chrono::steady_clock::now() + config.slurm.prolog_wait;
    auto poll = timing.first_poll;
    bool checked_boot = false;
    for (;;) {
        auto r = ledger.reserve(job.node, request);
        if (r) {
            record_held(*r);
            return HookOutcome{
                false,
                fmt::format("job {} on {}: reserved GPUs [{}]{} and {} CPUs", job.job_id, job.node,
                            join(r->gpus), exact.empty() ? "" : " (Slurm's gres/gpu)", r->cpus)};
        }
        const Errc code = r.error().code;
        // A lost connection may hide a reservation that was made: the job's record is kept,
        // so its epilog releases whatever the ledger holds for it.
        if (ledger_outage(r.error())) return refuse_locally(args, job, r.error().message);
        if (code == Errc::busy || code == Errc::ledger || code == Errc::internal) {
            return HookOutcome{true, r.error().message};
        }
        if (code == Errc::no_fit && !checked_boot) {
            // Before refusing for lack of room: what jobs of an earlier boot of this node hold
            // is free (the reboot rule). Once per prolog.
            checked_boot = true;
            auto released = release_dead_before_boot(ledger, job.node);
            if (!released) return ledger_failed(args, job, released.error());
            if (!released->empty()) {
                log.notes.insert(log.notes.end(), released->begin(), released->end());
                continue;
            }
        }
        if (code != Errc::no_fit || std::chrono::steady_clock::now() + poll > deadline) {
            const std::string why =
                code == Errc::no_fit
                    ? fmt::format(
                          "still no room after waiting {} s: {}; resubmit later or "
                          "ask for fewer",
                          config.slurm.prolog_wait.count(), r.error().message)
                    : r.error().message;
            return refuse(ledger, args, job, why);
        }
        // The slots are held by other jobs (or by hand); wait for a release.
        if (timing.on_wait) timing.on_wait();
        // Never past the deadline, whatever the poll interval says.
        const auto left = deadline - std::chrono::steady_clock::now();
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(poll, left));
        poll = std::min(timing.max_poll, poll * 3 / 2);
    }
}

}  // namespace

StepEnvironment step_environment(const PluginArgs& args, const SlurmJob& job) {
    StepEnvironment env;
    PluginConfig read;
    auto config = config_for(args, &read);
    if (!config) {
        env.error = true;
        env.message = config.error().message;
        // Fail closed without the site's list: hide the GPUs under the default variables.
        for (const auto& name : SlurmConfig{}.visible_devices_env) {
            env.variables.emplace_back(name, "");
        }
        return env;
    }
    const auto set_all = [&](const std::string& value) {
        for (const auto& name : config->slurm.visible_devices_env) {
            env.variables.emplace_back(name, value);
        }
    };
    // Fail closed: whatever goes wrong below, the job sees no GPU it did not reserve.
    const auto hide = [&] {
        if (config->slurm.hide_gpus_without_reservation) set_all("");
    };
    // Refused by a prolog that could not reach the ledger: the reason is on the node.
    if (auto records = RecordDir::open_existing(record_dir_of(args))) {
        if (auto reason = records->refusal(job.node, job.job_id)) {
            hide();
            env.refusal = *reason;
            env.message = fmt::format("job {} on {}: refused: {}", job.job_id, job.node, *reason);
            return env;
        }
    }
    auto ledger = open_ledger(*config, Ledger::Access::read_only);
    if (!ledger) {
        env.error = true;
        env.message = ledger.error().message;
        set_all("");
        return env;
    }
    env.warning = publish_step_settings(args, read, *config, **ledger, job.node);
    auto found = (*ledger)->find(Origin::slurm, job.job_id, job.node);
    if (!found) {
        env.error = true;
        env.message = found.error().message;
        set_all("");
        return env;
    }
    if (found->has_value()) {
        const Reservation& r = **found;
        env.held = r;
        if (follows_slurm(*config, job, &r)) {
            env.message = fmt::format(
                "job {} on {}: GPUs [{}] (Slurm's gres/gpu sets the "
                "variables), {} CPUs",
                job.job_id, job.node, join(r.gpus), r.cpus);
            return env;
        }
        if (r.gpus.empty()) {
            hide();
        } else {
            set_all(join(r.gpus));
        }
        env.message = fmt::format("job {} on {}: GPUs [{}], {} CPUs", job.job_id, job.node,
                                  join(r.gpus), r.cpus);
        return env;
    }
    auto refused = (*ledger)->refusal(job.node, job.job_id);
    if (!refused) {
        env.error = true;
        env.message = refused.error().message;
        set_all("");
        return env;
    }
    if (!refused->has_value() && follows_slurm(*config, job, nullptr)) {
        // Slurm's gres/gpu gave the job GPUs that the ledger could not record: the job is
        // Slurm's, its variables stay as Slurm set them.
        env.message = fmt::format(
            "job {} on {}: no reservation; Slurm's gres/gpu gave it GPUs "
            "[{}]",
            job.job_id, job.node, *job.slurm_gpus);
        return env;
    }
    hide();
    if (refused->has_value()) {
        env.refusal = **refused;
        env.message = fmt::format("job {} on {}: refused: {}", job.job_id, job.node, **refused);
    } else {
        env.message = fmt::format("job {} on {}: no reservation", job.job_id, job.node);
    }
    return env;
}

std::optional<std::string> step_refusal(const PluginArgs& args, const SlurmJob& step,
                                        const std::optional<Reservation>& held) {
    if (!step.asked_for_slots()) return std::nullopt;
    auto config = config_for(args);
    if (!config) {
        return fmt::format("cannot check the step's slots: {}", config.error().message);
    }
    auto asked = requested_slots(*config, step);
    if (!asked) return asked.error().message;
    const int gpus = held ? held->gpu_count : 0;
    const int cpus = held ? held->cpus : 0;
    const bool same =
        (!step.gpu_slots || asked->gpus == gpus) && (!step.cpu_slots || asked->cpus == cpus);
    if (same) return std::nullopt;
    std::string wanted;
    if (step.gpu_slots) wanted = fmt::format("--gpu-slots={}", asked->gpus);
    if (step.cpu_slots) {
        wanted += fmt::format("{}--cpu-slots={}", wanted.empty() ? "" : " ", asked->cpus);
    }
    return fmt::format(
        "this step asks for {}, but job {} holds {} on {}; a step runs on its job's slots: "
        "leave --gpu-slots/--cpu-slots off the step, or give the job's values",
        wanted, step.job_id, held ? slots_text(gpus, cpus) : std::string("no slots"), step.node);
}

}  // namespace gpuslots
