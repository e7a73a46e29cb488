#include "gpuslots/slurm_job.hpp"

#include <algorithm>
#include <thread>

#include "gpuslots/request.hpp"

namespace gpuslots {
namespace {

std::string join(const std::vector<int>& v) {
    return fmt::format("{}", fmt::join(v, ","));
}

Result<Config> config_for(const PluginArgs& args) {
    return load_config(resolve_config_path(args.config));
}

// A job's own problem: recorded so that its tasks fail with the reason; the node stays up.
HookOutcome refuse(Ledger& ledger, const SlurmJob& job, const std::string& reason) {
    if (auto recorded = ledger.record_refusal(job.node, job.job_id, reason); !recorded) {
        return HookOutcome{true, fmt::format("job {}: {}; and the refusal could not be "
                                             "recorded: {}",
                                             job.job_id, reason, recorded.error().message)};
    }
    return HookOutcome{false, fmt::format("job {} refused: {}", job.job_id, reason)};
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

HookOutcome job_prolog(const PluginArgs& args, const SlurmJob& job, PrologTiming timing) {
    if (!job.asked_for_slots()) {
        return HookOutcome{false, fmt::format("job {}: no slots asked for", job.job_id)};
    }
    auto config = config_for(args);
    if (!config) return HookOutcome{true, config.error().message};
    auto ledger = open_ledger(*config, Ledger::Access::read_write);
    if (!ledger) return HookOutcome{true, ledger.error().message};

    auto slots = requested_slots(*config, job);
    if (!slots) return refuse(**ledger, job, slots.error().message);
    if (!config->fleet.find(job.node)) {
        return refuse(**ledger, job,
                      fmt::format("node {} is not in the gpuslots config {}; ask the admin to "
                                  "add it or submit elsewhere",
                                  job.node, config->source));
    }
    const Request request{Origin::slurm, job.job_id, slots->gpus, slots->cpus, job.uid, {}};
    const auto deadline = std::chrono::steady_clock::now() + config->slurm.prolog_wait;
    auto poll = timing.first_poll;
    for (;;) {
        auto r = (*ledger)->reserve(job.node, request);
        if (r) {
            return HookOutcome{false, fmt::format("job {} on {}: reserved GPUs [{}] and {} CPUs",
                                                  job.job_id, job.node, join(r->gpus), r->cpus)};
        }
        const Errc code = r.error().code;
        if (code == Errc::busy || code == Errc::ledger || code == Errc::config ||
            code == Errc::internal) {
            return HookOutcome{true, r.error().message};
        }
        if (code != Errc::no_fit || std::chrono::steady_clock::now() + poll > deadline) {
            const std::string why =
                code == Errc::no_fit
                    ? fmt::format(
                          "still no room after waiting {} s: {}; resubmit later or "
                          "ask for fewer",
                          config->slurm.prolog_wait.count(), r.error().message)
                    : r.error().message;
            return refuse(**ledger, job, why);
        }
        // The slots are held by other jobs (or by hand); wait for a release.
        if (timing.on_wait) timing.on_wait();
        // Never past the deadline, whatever the poll interval says.
        const auto left = deadline - std::chrono::steady_clock::now();
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(poll, left));
        poll = std::min(timing.max_poll, poll * 3 / 2);
    }
}

HookOutcome job_epilog(const PluginArgs& args, const SlurmJob& job) {
    auto config = config_for(args);
    if (!config) return HookOutcome{true, config.error().message};
    auto ledger = open_ledger(*config, Ledger::Access::read_write);
    if (!ledger) return HookOutcome{true, ledger.error().message};
    auto released = (*ledger)->release(Origin::slurm, job.job_id, job.node);
    if (!released) return HookOutcome{true, released.error().message};
    if (released->empty()) {
        return HookOutcome{false,
                           fmt::format("job {} on {}: nothing to release", job.job_id, job.node)};
    }
    const Reservation& r = released->front();
    return HookOutcome{false, fmt::format("job {} on {}: released GPUs [{}] and {} CPUs",
                                          job.job_id, job.node, join(r.gpus), r.cpus)};
}

StepEnvironment step_environment(const PluginArgs& args, const SlurmJob& job) {
    StepEnvironment env;
    auto config = config_for(args);
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
    auto ledger = open_ledger(*config, Ledger::Access::read_only);
    if (!ledger) {
        env.error = true;
        env.message = ledger.error().message;
        set_all("");
        return env;
    }
    auto found = (*ledger)->find(Origin::slurm, job.job_id, job.node);
    if (!found) {
        env.error = true;
        env.message = found.error().message;
        set_all("");
        return env;
    }
    if (found->has_value()) {
        const Reservation& r = **found;
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
    hide();
    if (refused->has_value()) {
        env.refusal = **refused;
        env.message = fmt::format("job {} on {}: refused: {}", job.job_id, job.node, **refused);
    } else {
        env.message = fmt::format("job {} on {}: no reservation", job.job_id, job.node);
    }
    return env;
}

}  // namespace gpuslots
