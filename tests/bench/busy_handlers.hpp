// Swapping the ledger's SQLite busy handler inside the benchmark, without touching lib/.
//
// The driver defines sqlite3_busy_handler() itself. libgpuslots is a static library, so its
// call to sqlite3_busy_handler() (Connection's constructor) binds to this definition at link
// time; it forwards to SQLite's real function (dlsym RTLD_NEXT) with the handler chosen here.
// That measures the real ledger code with a different wait policy and nothing else changed.
#pragma once

#include <string>
#include <string_view>

namespace gpuslots::bench {

struct BusyPolicy {
    enum Kind {
        project,  // lib/sqlite_db.cpp's own handler (naps of 20 us .. 1 ms with jitter), as is
        sqlite,   // SQLite's default, sqlite3_busy_timeout(10 s): sleeps 1, 2, 5, 10 .. 100 ms
        nap,      // a candidate: naps from min_us doubling to max_us, +-50 % jitter, 10 s cap
    };
    Kind kind = project;
    long min_us = 0;
    long max_us = 0;
};

// Takes effect for connections opened after the call (set it in each worker before it opens
// the ledger). Default: project.
void set_busy_policy(const BusyPolicy& policy);
// "project", "sqlite" or "nap:MIN_US:MAX_US"; throws std::invalid_argument otherwise.
BusyPolicy parse_busy_policy(std::string_view name);
// True when the ledger's call to sqlite3_busy_handler() went through the swap (a check that
// the link-time interposition really happened; false means the figures would be mislabelled).
bool busy_swap_seen();

}  // namespace gpuslots::bench
