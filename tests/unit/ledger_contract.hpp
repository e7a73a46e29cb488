// Shared by the ledger's contract test files (test_ledger.cpp, test_ledger_exact.cpp): the
// store under test, chosen by test_ledger.cpp's main(), and small helpers.
#pragma once

#include <boost/test/unit_test.hpp>

#include <string_view>

#include "gpuslots/ledger.hpp"
#include "support/fixtures.hpp"
#include "support/stores.hpp"

namespace gpuslots::contract {

using test::TempDir;

// The store this run tests (--store=NAME).
const test::StoreUnderTest& store();

inline const char* kTwoByFour = R"(
servers:
  - name: gpu-server-[0-1]
    gpus: 4
    cpus: 32
)";

// A config with `servers_yaml` whose ledger is the store under test's, private to `dir`.
inline Config config_for(const TempDir& dir, const std::string& servers_yaml) {
    return test::make_config(dir, servers_yaml + "\n" + store().state_yaml(dir));
}

inline std::unique_ptr<Ledger> open_rw(const Config& config) {
    auto ledger = open_ledger(config, Ledger::Access::read_write);
    BOOST_TEST_REQUIRE(ledger.ok(), (ledger.ok() ? "" : ledger.error().message));
    return std::move(*ledger);
}

inline Request manual(const std::string& id, int gpus, int cpus, std::uint32_t uid = 0) {
    return Request{Origin::manual, id, gpus, cpus, uid, {}};
}

inline Request job(const std::string& id, int gpus, int cpus, std::vector<int> exact = {}) {
    return Request{Origin::slurm, id, gpus, cpus, 1000, std::move(exact)};
}

inline bool has(const Error& e, Errc code, std::string_view phrase) {
    return e.code == code && e.message.find(phrase) != std::string::npos;
}

// Each case gets its own empty ledger of the store under test.
struct Fixture {
    TempDir dir;
    Config config = config_for(dir, kTwoByFour);
    std::unique_ptr<Ledger> ledger = open_rw(config);
};

}  // namespace gpuslots::contract
