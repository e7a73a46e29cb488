// The GPU monitoring files (slurm.dcgm_job_mapping_dir, slurm.jobstats_dir) follow the ledger
// after every prolog and epilog (gpuslots/gpu_job_files.hpp). Monitoring must never fail a
// job or drain a node: a failure here is only one more warning in the hook's log, and
// `gpuslots gpu-job-files` rebuilds the files later.
#pragma once

#include <string>

#include "gpuslots/gpu_job_files.hpp"
#include "gpuslots/slurm_job.hpp"

namespace gpuslots {

inline void note_job_files(const SlurmConfig& slurm, Ledger& ledger, const std::string& node,
                           HookOutcome& outcome) {
    if (auto synced = sync_node_job_files(slurm, ledger, node); !synced) {
        outcome.warnings.push_back("GPU job files not updated: " + synced.error().message);
    }
}

}  // namespace gpuslots
