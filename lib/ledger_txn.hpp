// The Ledger's transactions over a Store, shared by the files that implement Ledger
// (ledger.cpp, ledger_recovery.cpp). Internal to lib/.
#pragma once

#include "gpuslots/ledger.hpp"
#include "gpuslots/store.hpp"
#include "retry.hpp"

namespace gpuslots::detail {

// A Store transaction that rolls back unless committed: a rule that refuses returns early, a
// failure unwinds, and either way nothing stays half done.
class Transaction {
  public:
    Transaction(Store& store, Store::Transaction kind) : store_(store) { store_.begin(kind); }
    ~Transaction() {
        if (open_) store_.rollback();
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit() {
        store_.commit();
        open_ = false;
    }

  private:
    Store& store_;
    bool open_ = true;
};

// Runs `read` in a read transaction.
template <typename F>
auto in_snapshot(Store& store, F&& read) {
    Transaction txn(store, Store::Transaction::read);
    auto result = read();
    txn.commit();
    return result;
}

}  // namespace gpuslots::detail

namespace gpuslots {

template <typename Body>
auto Ledger::run(Body&& body) -> decltype(body()) {
    return retry_transient(
        std::chrono::steady_clock::now() + config_.state.busy_timeout,
        [&](const StoreFailure& f) { return store_->transient(f); },
        [&](const StoreFailure& f) { return store_->describe(f); }, body);
}

}  // namespace gpuslots
