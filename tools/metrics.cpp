// gpuslots metrics [--textfile DIR] [--info-limit N]: the ledger for Prometheus. Without
// --textfile on stdout (for a scrape through a wrapper, or a look); with it into
// DIR/gpuslots.prom for node_exporter's textfile collector, which must never read a half-
// written file: the text goes to a temporary file in DIR (a name the collector ignores, not
// ending in .prom) and is renamed over gpuslots.prom, atomically.
//
// A ledger that cannot be read still produces a file, with gpuslots_ledger_up 0 (and exit 4),
// so that an alert fires instead of the last good numbers staying up. A config that cannot be
// read produces nothing (there are no servers to report); the file then grows old, which
// node_textfile_mtime_seconds shows.
#include "cli.hpp"
#include "gpuslots/atomic_file.hpp"
#include "gpuslots/request.hpp"
#include "gpuslots/status.hpp"
#include "gpuslots/storage.hpp"
#include "metrics_text.hpp"
#include "text.hpp"

namespace gpuslots::cli {
namespace {

constexpr const char* kTextfileName = "gpuslots.prom";

struct MetricsOptions {
    std::string textfile_dir;
    std::string info_limit = "10000";
};

int run_metrics(const MetricsOptions& o, const Globals& globals) {
    auto limit = parse_count(o.info_limit, "--info-limit", Range{0, 1000000});
    if (!limit) return report(limit.error());
    auto config = load(globals);
    if (!config) return report(config.error());

    std::optional<Error> failure;
    std::optional<FleetStatus> st;
    std::size_t verify_problems = 0;
    auto ledger = open_ledger(*config, Ledger::Access::read_only);
    if (!ledger) {
        failure = ledger.error();
    } else if (auto problems = (*ledger)->verify(); !problems) {
        failure = problems.error();
    } else if (auto held = (*ledger)->reservations(); !held) {
        failure = held.error();
    } else if (auto authority = (*ledger)->authority(); !authority) {
        failure = authority.error();
    } else {
        verify_problems = problems->size();
        st = summarize(config->fleet, std::move(*held), *authority);
    }
    const std::string text = prometheus_text(
        MetricsInput{st ? &*st : nullptr, verify_problems, static_cast<std::size_t>(*limit)});
    if (o.textfile_dir.empty()) {
        std::fwrite(text.data(), 1, text.size(), stdout);
    } else if (auto written = replace_file(o.textfile_dir, kTextfileName, text); !written) {
        return report(make_error(Errc::bad_input, "--textfile: {}", written.error().message));
    }
    if (failure) return report(*failure);
    return kOk;
}

}  // namespace

void setup_metrics(CLI::App& app, const Globals& globals, Runner& runner) {
    auto o = std::make_shared<MetricsOptions>();
    CLI::App* sub = app.add_subcommand(
        "metrics",
        "Print the ledger as Prometheus metrics (text format), or write them for "
        "node_exporter's textfile collector; changes nothing");
    sub->add_option("--textfile", o->textfile_dir,
                    "Write DIR/gpuslots.prom atomically (temporary file + rename) instead of "
                    "printing; DIR is node_exporter's --collector.textfile.directory")
        ->option_text("DIR");
    sub->add_option("--info-limit", o->info_limit,
                    "At most N series of gpuslots_gpu_reservation_info (default 10000); the "
                    "number left out is gpuslots_gpu_reservation_info_dropped")
        ->option_text("N");
    sub->callback(
        [o, &globals, &runner] { runner = [o, &globals] { return run_metrics(*o, globals); }; });
}

}  // namespace gpuslots::cli
