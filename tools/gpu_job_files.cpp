// gpuslots gpu-job-files [--server NAME]: rebuild the GPU monitoring files (dcgm-exporter's
// job mapping, jobstats' /run/gpustat) of one node from the ledger. The prolog and epilog
// keep them in step as jobs come and go; this is for after a reboot (/run is empty again), a
// lost epilog, or when the feature is switched on with jobs already running.
#include <unistd.h>

#include "cli.hpp"
#include "gpuslots/gpu_job_files.hpp"
#include "gpuslots/storage.hpp"
#include "text.hpp"

namespace gpuslots::cli {
namespace {

struct JobFilesOptions {
    std::string server;
};

// The Slurm node name Slurm would use by default: the host name up to its first dot.
std::string this_host() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0) return "";
    std::string host(name);
    return host.substr(0, host.find('.'));
}

int run_gpu_job_files(const JobFilesOptions& o, const Globals& globals) {
    auto config = load(globals);
    if (!config) return report(config.error());
    const auto& slurm = config->slurm;
    if (slurm.dcgm_job_mapping_dir.empty() && slurm.jobstats_dir.empty()) {
        return report(make_error(Errc::bad_input,
                                 "gpu-job-files: {} sets neither slurm.dcgm_job_mapping_dir nor "
                                 "slurm.jobstats_dir; nothing to write",
                                 config->source));
    }
    const std::string server = o.server.empty() ? this_host() : o.server;
    if (!config->fleet.find(server)) {
        return report(make_error(Errc::bad_input,
                                 "gpu-job-files: '{}' is not in the config {}; name the node "
                                 "with --server",
                                 server, config->source));
    }
    auto ledger = open_ledger(*config, Ledger::Access::read_only);
    if (!ledger) return report(ledger.error());
    if (auto synced = sync_node_job_files(config->slurm, **ledger, server); !synced) {
        return report(synced.error());
    }
    if (!slurm.dcgm_job_mapping_dir.empty()) {
        say("gpu-job-files: {} matches the ledger for {}\n", slurm.dcgm_job_mapping_dir, server);
    }
    if (!slurm.jobstats_dir.empty()) {
        say("gpu-job-files: {} matches the ledger for {}\n", slurm.jobstats_dir, server);
    }
    return kOk;
}

}  // namespace

void setup_gpu_job_files(CLI::App& app, const Globals& globals, Runner& runner) {
    auto o = std::make_shared<JobFilesOptions>();
    CLI::App* sub = app.add_subcommand(
        "gpu-job-files",
        "Rebuild this node's GPU job files for dcgm-exporter (slurm.dcgm_job_mapping_dir) and "
        "jobstats (slurm.jobstats_dir) from the ledger; the prolog and epilog keep them "
        "current");
    sub->add_option("--server", o->server, "The node (default: this host's short name)")
        ->option_text("NAME");
    sub->callback([o, &globals, &runner] {
        runner = [o, &globals] { return run_gpu_job_files(*o, globals); };
    });
}

}  // namespace gpuslots::cli
