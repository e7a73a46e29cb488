// Per-GPU job files for GPU monitoring, kept in step with the ledger on a node:
//
//   dcgm      dcgm-exporter --hpc-job-mapping-dir DIR: one file per GPU, named by the GPU's
//             index ("0", "1", ...), holding the ids of the jobs using that GPU, one per line;
//             the exporter labels that GPU's metrics with them (hpc_job).
//   jobstats  Princeton jobstats (/run/gpustat/<index>): "<jobid> <uid>" of the job using it.
//
// Both are one file per reserved GPU with the same lifetime, so one function writes either:
// a GPU that no Slurm job holds has no file. Manual bookings are not jobs and are left out.
//
// The index is the one the ledger hands out in CUDA_VISIBLE_DEVICES. DCGM numbers GPUs in
// NVML (PCI bus) order, so the two agree only when the node's CUDA order is PCI order
// (CUDA_DEVICE_ORDER=PCI_BUS_ID, and the config's GPUs are the node's GPUs in that order):
// README "Monitoring".
#pragma once

#include <map>
#include <string>
#include <vector>

#include "gpuslots/config.hpp"
#include "gpuslots/error.hpp"
#include "gpuslots/ledger.hpp"
#include "gpuslots/reservation.hpp"

namespace gpuslots {

enum class JobFileFormat { dcgm, jobstats };

// What each GPU's file holds, by GPU index (only GPUs that have a file): the Slurm
// reservations of `server` in `held`, oldest first, in `format`.
std::map<int, std::string> gpu_job_files(JobFileFormat format, const std::string& server,
                                         const std::vector<Reservation>& held);

// Makes `dir` hold exactly `files`: each file whose contents differ is written to a temporary
// file in `dir` and renamed over its name (readers never see half a file), mode 0644; files
// named by a plain GPU index that are not in `files` are removed. Other files are left alone.
// Creates `dir` (mode 0755) if it is missing. Errors: Errc::config naming the path and why.
Result<void> sync_gpu_job_files(const std::string& dir, const std::map<int, std::string>& files);

// Both directories the config names (slurm.dcgm_job_mapping_dir, slurm.jobstats_dir) made to
// match `server`'s Slurm reservations in the ledger; nothing at all (not even a read) when the
// config names neither. Errors: the ledger's, or Errc::config from sync_gpu_job_files.
Result<void> sync_node_job_files(const SlurmConfig& slurm, Ledger& ledger,
                                 const std::string& server);

}  // namespace gpuslots
