// A point-in-time view of the fleet: config totals joined with the ledger's reservations.
// Both front-ends render it (the CLI as a table or JSON); the numbers are computed here once.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gpuslots/config.hpp"
#include "gpuslots/ledger.hpp"

namespace gpuslots {

struct ServerStatus {
    std::string name;
    int gpus_total = 0;
    int gpus_free = 0;
    int cpus_total = 0;
    int cpus_free = 0;
    std::vector<Reservation> tasks;  // oldest first
    // Whether the ledger holds this server's books (Authority::covers). When it does not, its
    // free counts are not known here: they are 0 in the view (never counted as free), and the
    // front-ends say "unknown here" instead of a number.
    bool known = true;
};

// Over the servers whose books the ledger holds; `tasks` over every server shown.
struct Totals {
    long long gpus_total = 0;
    long long gpus_free = 0;
    long long cpus_total = 0;
    long long cpus_free = 0;
    long long tasks = 0;
    long long unknown_servers = 0;  // servers shown whose books the ledger does not hold
};

struct FleetStatus {
    std::vector<ServerStatus> servers;  // config order
    Totals totals;
    // Servers no longer in the config that still hold reservations (not in totals): their
    // reservations stay until released, so nothing is lost when a server leaves the config.
    std::vector<ServerStatus> removed;
    // Invariant violations (see check_invariants); empty on a healthy ledger.
    std::vector<std::string> problems;
    // Whose books the ledger holds (servers it does not cover are ServerStatus::known false).
    Authority authority;
};

// Free counts never go below zero in the view; a server that holds more than it has (the
// config shrank) shows 0 free and a problem. A server that `authority` does not cover is shown
// with what this ledger holds there, but not known (0 free, outside the totals).
FleetStatus summarize(const Fleet& fleet, std::vector<Reservation> reservations,
                      const Authority& authority = Authority{});

// What `gpuslots status --server NAME / --job ID / --task ID` shows. Unset fields match all.
struct StatusFilter {
    std::optional<std::string> server;
    // One reservation's id: a Slurm job id (origin slurm) or a manual task id.
    std::optional<std::pair<Origin, std::string>> task;
};

// The servers (configured, then removed) that match, each with its counts for the whole
// server but, under a task filter, only that task in its list; totals are over the servers
// kept (tasks: the reservations kept). Problems are the whole ledger's: a filter must not hide
// a damaged ledger.
FleetStatus select(FleetStatus status, const StatusFilter& filter);

// Appends v in decimal (status output is appended by hand: no format strings per row).
void append_decimal(std::string& out, std::int64_t v);

// Appends a reservation time as ISO 8601 UTC, "2026-11-30T03:00:56Z", exactly as
// gmtime_r + strftime("%Y-%m-%dT%H:%M:%SZ") would, but by arithmetic: no time-zone
// machinery or lock per call (status prints one per reservation).
void append_utc_iso8601(std::string& out, std::int64_t unix_seconds);

}  // namespace gpuslots
