// The retry policy for transient store failures, written once for the Ledger's operations and
// for opening a store. Internal to lib/.
#pragma once

#include <algorithm>
#include <chrono>
#include <new>
#include <thread>

#include "gpuslots/error.hpp"
#include "gpuslots/store.hpp"

namespace gpuslots {

// Runs `body` (which returns a Result) and returns what it returns. A StoreFailure thrown by
// it is re-run after a short, growing nap (0.1 ms to 6.4 ms) while `transient(failure)` holds
// and `deadline` has not passed; otherwise it becomes `describe(failure)`. Each run must start
// from scratch (a fresh transaction), so a re-run never sees half of an earlier one.
template <typename Body, typename Transient, typename Describe>
auto retry_transient(std::chrono::steady_clock::time_point deadline, Transient&& transient,
                     Describe&& describe, Body&& body) -> decltype(body()) {
    for (int attempt = 0;; ++attempt) {
        try {
            return body();
        } catch (const StoreFailure& f) {
            if (!transient(f) || std::chrono::steady_clock::now() >= deadline) return describe(f);
            std::this_thread::sleep_for(std::chrono::microseconds(100 << std::min(attempt, 6)));
        } catch (const std::bad_alloc&) {
            return make_error(Errc::internal, "out of memory");
        }
    }
}

}  // namespace gpuslots
