// `gpuslots metrics`: the ledger in the Prometheus text exposition format (version 0.0.4), as
// node_exporter's textfile collector and `promtool check metrics` read it.
//
// Every metric is a gauge: the ledger's numbers go up and down, none counts events, so none
// ends in _total (Prometheus reserves that suffix for counters). Counts have no unit suffix.
// Series per server are as many as servers; the per-GPU info series are at most one per GPU
// (a GPU is held by at most one reservation) and are capped by `info_limit` besides, with the
// number left out reported, so a large fleet cannot flood the monitoring.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "gpuslots/status.hpp"

namespace gpuslots::cli {

struct MetricsInput {
    // The fleet's state; absent when the ledger could not be read (gpuslots_ledger_up 0).
    const FleetStatus* status = nullptr;
    // Problems found by the ledger's own check (Ledger::verify), added to status->problems.
    std::size_t verify_problems = 0;
    std::size_t info_limit = 10000;
};

std::string prometheus_text(const MetricsInput& in);

// Prometheus label value escaping: backslash, double quote and line feed.
void append_label_value(std::string& out, std::string_view value);

}  // namespace gpuslots::cli
