// The stores the ledger's contract tests (tests/unit/test_ledger.cpp) run against, and a
// store that forwards to a real one, for tests that change one answer of it on purpose.
//
// A store is registered with one row in kStores below (and its name in the
// gpuslots_store_contract() call in tests/CMakeLists.txt, which makes it a ctest entry of its
// own, unit.ledger.<name>). Where its server cannot be had, `unavailable` says why and the
// contract test program exits 77: ctest reports it as skipped, with the reason.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gpuslots/store.hpp"
#include "support/fixtures.hpp"
#include "support/mariadb.hpp"

namespace gpuslots::test {

struct StoreUnderTest {
    const char* name;
    // nullopt when the store can be tested here; otherwise why not.
    std::optional<std::string> (*unavailable)();
    // The `state:` section of a config whose ledger is empty and private to `dir`; the same
    // `dir` names the same ledger again (a second config, another fleet, the same books).
    std::string (*state_yaml)(const TempDir& dir);
    // One ledger for the whole cluster (Authority::Scope::shared): the truth for every server.
    bool shared = false;
};

inline const StoreUnderTest kStores[] = {
    {"sqlite", [] { return std::optional<std::string>(); },
     [](const TempDir&) { return std::string("state:\n  path: state.db\n"); }},
    {"mariadb", mariadb_server::unavailable, mariadb_server::state_yaml, true},
};

// The store named by `--store=NAME` among argv (removed from it; "sqlite" when absent), or
// nullptr with a message on stderr when there is no such store.
inline const StoreUnderTest* store_from_args(std::vector<char*>& args, int argc, char** argv) {
    std::string name = "sqlite";
    for (int i = 0; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg.rfind("--store=", 0) == 0) {
            name = arg.substr(8);
        } else {
            args.push_back(argv[i]);
        }
    }
    for (const auto& store : kStores) {
        if (name == store.name) return &store;
    }
    std::fprintf(stderr, "no store '%s' in tests/support/stores.hpp\n", name.c_str());
    return nullptr;
}

// Passes every call on to `inner`; a test overrides the calls it wants to change.
class ForwardingStore : public Store {
  public:
    explicit ForwardingStore(std::unique_ptr<Store> inner) : inner_(std::move(inner)) {}
    void begin(Transaction kind) override { inner_->begin(kind); }
    void commit() override { inner_->commit(); }
    void rollback() noexcept override { inner_->rollback(); }
    void lock_servers(const std::vector<std::string>& servers) override {
        inner_->lock_servers(servers);
    }
    ServerHoldings holdings(std::string_view server) override { return inner_->holdings(server); }
    std::vector<ServerLoad> loads() override { return inner_->loads(); }
    std::vector<Reservation> find(Origin origin, std::string_view task_id,
                                  std::optional<std::string_view> server) override {
        return inner_->find(origin, task_id, server);
    }
    std::vector<Reservation> all() override { return inner_->all(); }
    std::optional<std::string> refusal(std::string_view server, std::string_view task_id) override {
        return inner_->refusal(server, task_id);
    }
    void insert(const Reservation& r) override { inner_->insert(r); }
    void erase(const Reservation& r) override { inner_->erase(r); }
    std::size_t erase_all() override { return inner_->erase_all(); }
    void record_refusal(std::string_view server, std::string_view task_id, std::string_view reason,
                        std::int64_t created_unix) override {
        inner_->record_refusal(server, task_id, reason, created_unix);
    }
    void erase_refusals(std::string_view task_id, std::optional<std::string_view> server) override {
        inner_->erase_refusals(task_id, server);
    }
    std::optional<std::vector<std::string>> claims() override { return inner_->claims(); }
    void claim(std::string_view server) override { inner_->claim(server); }
    std::vector<std::string> verify() override { return inner_->verify(); }
    bool transient(const StoreFailure& f) const override { return inner_->transient(f); }
    Error describe(const StoreFailure& f) const override { return inner_->describe(f); }

  private:
    std::unique_ptr<Store> inner_;
};

}  // namespace gpuslots::test
