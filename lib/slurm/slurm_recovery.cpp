#include "gpuslots/slurm_recovery.hpp"

#include <ctime>

#include "gpuslots/boot.hpp"
#include "gpuslots/pending_release.hpp"
#include "gpuslots/step_settings.hpp"
#include "gpuslots/storage.hpp"

namespace gpuslots {
namespace {

std::string local_time(std::int64_t when) {
    const auto t = static_cast<std::time_t>(when);
    std::tm tm{};
    ::localtime_r(&t, &tm);
    char buf[32] = {};
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

}  // namespace

std::string record_dir_of(const PluginArgs& args) {
    return args.record_dir.value_or(kDefaultRecordDir);
}

std::string released_before_boot_line(const Reservation& r) {
    const auto boot = boot_time_unix();
    return fmt::format(
        "released job {}'s {} on {}: reserved before this node's boot{} (at {})", r.task_id,
        r.gpus.empty() ? fmt::format("{} CPUs", r.cpus)
                       : fmt::format("GPUs {}", fmt::join(r.gpus, ",")),
        r.server, boot ? " at " + local_time(*boot) : std::string(), local_time(r.created_unix));
}

Result<std::vector<std::string>> release_dead_before_boot(Ledger& ledger, const std::string& node) {
    auto released = ledger.release_before_boot(node, current_boot_id());
    if (!released) return released.error();
    std::vector<std::string> lines;
    for (const auto& r : *released)
        lines.push_back(released_before_boot_line(r));
    return lines;
}

StartOutcome slurmd_start(const PluginArgs& args, const std::string& node) {
    StartOutcome out;
    const auto fail = [&](const std::string& why) {
        out.lines.push_back(
            fmt::format("{}: cannot check for reservations made before this boot: {}", node, why));
        out.error = true;
        return out;
    };
    // Releases that epilogs kept while the ledger was out of reach, first: they name their
    // own ledger and need no config.
    if (auto records = RecordDir::open_existing(record_dir_of(args))) {
        PendingOutcome pending = apply_pending_releases(*records, node);
        out.lines = pending.applied;
        out.lines.insert(out.lines.end(), pending.kept.begin(), pending.kept.end());
    }
    PluginConfig read;
    auto config = load_plugin_config(args, &read);
    if (!config) return fail(config.error().message);
    if (config->fleet.server(node) == nullptr) return out;  // not a gpuslots node
    auto ledger = open_ledger(*config, Ledger::Access::read_write);
    if (!ledger) return fail(ledger.error().message);
    auto lines = release_dead_before_boot(**ledger, node);
    if (!lines) return fail(lines.error().message);
    out.lines.insert(out.lines.end(), lines->begin(), lines->end());
    // Once the jobs of an earlier boot (which have no records any more) are released.
    if (auto line = publish_step_settings(args, read, *config, **ledger, node)) {
        out.lines.push_back(*line);
    }
    return out;
}

std::optional<std::string> moved_ledger_refusal(const Config& config, const RecordDir& records,
                                                const std::string& node,
                                                const std::string& job_id) {
    for (const JobRecord& other : held_in_other_ledgers(config, records, node, true)) {
        if (other.job_id == job_id) continue;  // a rerun prolog of the same job
        return fmt::format(
            "the ledger has moved while jobs hold GPUs on {}: job {} holds its slots in {} "
            "(config {} then), but the config {} now names {}; no job gets slots from the new "
            "ledger while the old one holds this node's: wait for those jobs to end, or move "
            "the ledger back (see 'gpuslots check-config'); if that ledger is gone for good and "
            "job {} no longer runs, remove its record from {}",
            node, other.job_id, ledger_location(other.state), other.config_source, config.source,
            ledger_location(config.state), other.job_id, records.path());
    }
    return std::nullopt;
}

}  // namespace gpuslots
