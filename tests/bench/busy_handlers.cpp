#include "busy_handlers.hpp"

#include <dlfcn.h>
#include <sqlite3.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <stdexcept>
#include <string>

namespace gpuslots::bench {
namespace {

using BusyHandlerFn = int (*)(sqlite3*, int (*)(void*, int), void*);

BusyPolicy g_policy;
std::atomic<bool> g_seen{false};
// SQLite's sqlite3_busy_timeout() installs its handler through sqlite3_busy_handler(); when
// the dynamic linker routes that call back here, it must go straight through.
thread_local bool t_inside = false;

BusyHandlerFn real_busy_handler() {
    static const auto fn =
        reinterpret_cast<BusyHandlerFn>(::dlsym(RTLD_NEXT, "sqlite3_busy_handler"));
    if (fn == nullptr) throw std::runtime_error("dlsym(sqlite3_busy_handler) failed");
    return fn;
}

// The candidate handler: the project's shape with other bounds. One state per connection.
struct NapState {
    long min_us;
    long max_us;
    std::chrono::steady_clock::time_point since;
};

int nap_handler(void* arg, int attempt) {
    auto* s = static_cast<NapState*>(arg);
    const auto now = std::chrono::steady_clock::now();
    if (attempt == 0) s->since = now;
    if (now - s->since >= std::chrono::seconds(10)) return 0;
    thread_local std::minstd_rand jitter(std::random_device{}());
    const long base = std::min(s->max_us, s->min_us << std::min(attempt, 20));
    const long nap_us = base / 2 + static_cast<long>(jitter() % static_cast<unsigned>(base));
    timespec ts{nap_us / 1'000'000, (nap_us % 1'000'000) * 1000L};
    nanosleep(&ts, nullptr);
    return 1;
}

}  // namespace

void set_busy_policy(const BusyPolicy& policy) {
    g_policy = policy;
}

BusyPolicy parse_busy_policy(std::string_view name) {
    BusyPolicy p;
    if (name == "project") return p;
    if (name == "sqlite") {
        p.kind = BusyPolicy::sqlite;
        return p;
    }
    if (name.substr(0, 4) == "nap:") {
        const std::string rest(name.substr(4));
        const auto colon = rest.find(':');
        if (colon != std::string::npos) {
            p.kind = BusyPolicy::nap;
            p.min_us = std::stol(rest.substr(0, colon));
            p.max_us = std::stol(rest.substr(colon + 1));
            if (p.min_us > 0 && p.max_us >= p.min_us) return p;
        }
    }
    throw std::invalid_argument("busy policy must be project, sqlite or nap:MIN_US:MAX_US, not '" +
                                std::string(name) + "'");
}

bool busy_swap_seen() {
    return g_seen.load();
}

}  // namespace gpuslots::bench

// The interposer. Same signature as SQLite's; the ledger's call lands here.
extern "C" int sqlite3_busy_handler(sqlite3* db, int (*handler)(void*, int), void* arg) {
    using namespace gpuslots::bench;
    if (t_inside) return real_busy_handler()(db, handler, arg);
    g_seen = true;
    switch (g_policy.kind) {
        case BusyPolicy::sqlite: {
            t_inside = true;
            const int rc = sqlite3_busy_timeout(db, 10'000);  // the ledger's default timeout
            t_inside = false;
            return rc;
        }
        case BusyPolicy::nap:
            // One small state per connection, alive as long as the benchmark process.
            return real_busy_handler()(db, nap_handler,
                                       new NapState{g_policy.min_us, g_policy.max_us, {}});
        case BusyPolicy::project:
            break;
    }
    return real_busy_handler()(db, handler, arg);
}
