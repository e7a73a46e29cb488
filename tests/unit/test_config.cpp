// The YAML configuration: what valid files parse into (fleet, defaults, request ranges, the
// ledger path), every error with its exact file:line:column, loading from disk and the order
// in which the config file is looked up.
#define BOOST_TEST_MODULE config
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "gpuslots/config.hpp"
#include "gpuslots/hostlist.hpp"
#include "support/fixtures.hpp"

using namespace gpuslots;
using gpuslots::test::TempDir;
using gpuslots::test::write_file;

namespace {

// Every parse in this file claims to come from here, so relative paths have a fixed anchor.
const std::string kSource = "/etc/gpuslots/gpuslots.yaml";

// A one-line description of a fleet, so a mismatch prints readably: "a:4/32 b:8/16".
std::string describe(const Fleet& fleet) {
    std::string out;
    for (const auto& s : fleet.servers()) {
        if (!out.empty()) out += ' ';
        out += s.name + ':' + std::to_string(s.gpus) + '/' + std::to_string(s.cpus);
    }
    return out;
}

// The error message of a failed result, for assertion messages (which may be evaluated even
// when the assertion passes).
template <typename T>
std::string why(const Result<T>& r) {
    return r.ok() ? std::string("(ok)") : r.error().message;
}

Config parse_ok(const std::string& yaml, const std::string& source = kSource) {
    auto config = parse_config(yaml, source);
    BOOST_TEST_REQUIRE(config.ok(), "unexpected error: " << why(config));
    return std::move(*config);
}

// The text every valid case below shares: one server, so each case adds only what it tests.
const std::string kOneServer = R"(servers:
  - name: a
    gpus: 4
    cpus: 32
)";

}  // namespace

BOOST_AUTO_TEST_SUITE(valid)

BOOST_AUTO_TEST_CASE(minimal_spec_file) {
    const Config c = parse_ok(R"(servers:
  - name: gpu-server-[0-1]      # a Slurm hostlist expression or a plain name
    gpus: 4
    cpus: 32
state:
  path: /var/lib/gpuslots/state.db   # the embedded ledger
)");
    BOOST_TEST(c.source == kSource);
    BOOST_TEST(describe(c.fleet) == "gpu-server-0:4/32 gpu-server-1:4/32");
    BOOST_TEST(c.fleet.max_gpus() == 4);
    BOOST_TEST(c.fleet.max_cpus() == 32);
    BOOST_TEST(c.state.sqlite.path == "/var/lib/gpuslots/state.db");
    BOOST_TEST(c.gpus_per_request.min == 1);
    BOOST_TEST(c.gpus_per_request.max == 4);
    BOOST_TEST(c.cpus_per_request.min == 0);
    BOOST_TEST(c.cpus_per_request.max == 32);
    BOOST_TEST(c.fleet.find("gpu-server-1").value_or(99) == 1u);
    BOOST_TEST(!c.fleet.find("gpu-server-2").has_value());
}

BOOST_AUTO_TEST_CASE(fleets_from_servers_and_shorthand) {
    struct Case {
        std::string name;
        std::string yaml;
        std::string fleet;
    };
    const std::vector<Case> cases = {
        {"shorthand", "total_servers: 3\ngpus_per_server: 2\ncpus_per_server: 16\n",
         "gpu-server-0:2/16 gpu-server-1:2/16 gpu-server-2:2/16"},
        {"shorthand, one server", "total_servers: 1\ngpus_per_server: 8\ncpus_per_server: 64\n",
         "gpu-server-0:8/64"},
        {"shorthand, other key order", "cpus_per_server: 7\ntotal_servers: 2\ngpus_per_server: 1\n",
         "gpu-server-0:1/7 gpu-server-1:1/7"},
        {"entries keep config order",
         "servers:\n  - name: z\n    gpus: 1\n    cpus: 2\n  - name: n[2,1]\n    gpus: 3\n"
         "    cpus: 4\n",
         "z:1/2 n2:3/4 n1:3/4"},
        {"flow style entry", "servers: [{name: 'gpu-[08-10]', gpus: 2, cpus: 8}]\n",
         "gpu-08:2/8 gpu-09:2/8 gpu-10:2/8"},
        {"quoted numbers and a leading plus",
         "servers:\n  - name: a\n    gpus: \"3\"\n    cpus: +5\n", "a:3/5"},
        {"upper bounds", "servers:\n  - name: a\n    gpus: 1024\n    cpus: 1048576\n",
         "a:1024/1048576"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.name) {
            const Config config = parse_ok(c.yaml);
            BOOST_TEST(describe(config.fleet) == c.fleet);
        }
    }
}

BOOST_AUTO_TEST_CASE(each_entry_says_whether_slurm_schedules_its_servers) {
    const Config config = parse_ok(
        "servers:\n"
        "  - {name: 'n[1-2]', gpus: 4, cpus: 8, slurm: slots}\n"
        "  - {name: g1, gpus: 8, cpus: 64, slurm: follow}\n"
        "  - {name: ws, gpus: 1, cpus: 4, slurm: none}\n"
        "  - {name: old, gpus: 1, cpus: 4}\n");
    std::string modes;
    for (const auto& s : config.fleet.servers()) {
        modes += s.name + '=' + slurm_mode_name(s.slurm) + ' ';
    }
    BOOST_TEST(modes == "n1=slots n2=slots g1=follow ws=none old=none ");
}

BOOST_AUTO_TEST_CASE(default_request_ranges_follow_the_largest_server) {
    // The most GPUs and the most CPUs are on different servers: each bound has its own maximum.
    const Config c = parse_ok(R"(servers:
  - name: big-cpu
    gpus: 2
    cpus: 96
  - name: big-gpu-[1-2]
    gpus: 8
    cpus: 16
  - name: small
    gpus: 1
    cpus: 4
)");
    BOOST_TEST(c.fleet.size() == 4u);
    BOOST_TEST(c.fleet.max_gpus() == 8);
    BOOST_TEST(c.fleet.max_cpus() == 96);
    BOOST_TEST(c.gpus_per_request.min == 1);
    BOOST_TEST(c.gpus_per_request.max == 8);
    BOOST_TEST(c.cpus_per_request.min == 0);
    BOOST_TEST(c.cpus_per_request.max == 96);
}

BOOST_AUTO_TEST_CASE(explicit_request_ranges) {
    struct Case {
        std::string requests;
        Range gpus;
        Range cpus;
    };
    // The fleet has 4 GPUs and 32 CPUs per server: defaults 1..4 and 0..32.
    const std::vector<Case> cases = {
        {"requests:\n  gpus: {min: 2, max: 3}\n  cpus: {min: 1, max: 8}\n", {2, 3}, {1, 8}},
        {"requests:\n  gpus: {max: 2}\n", {1, 2}, {0, 32}},
        {"requests:\n  gpus: {min: 3}\n", {3, 4}, {0, 32}},
        {"requests:\n  cpus:\n    min: 4\n", {1, 4}, {4, 32}},
        {"requests:\n  gpus: {min: 0}\n", {0, 4}, {0, 32}},  // CPU-only requests allowed
        {"requests:\n  gpus: {min: 4, max: 4}\n  cpus: {max: 32}\n", {4, 4}, {0, 32}},
        {"requests: {}\n", {1, 4}, {0, 32}},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.requests) {
            const Config config = parse_ok(kOneServer + c.requests);
            BOOST_TEST(config.gpus_per_request.min == c.gpus.min);
            BOOST_TEST(config.gpus_per_request.max == c.gpus.max);
            BOOST_TEST(config.cpus_per_request.min == c.cpus.min);
            BOOST_TEST(config.cpus_per_request.max == c.cpus.max);
        }
    }
}

BOOST_AUTO_TEST_CASE(state_path_resolution) {
    const std::string cwd = std::filesystem::current_path().string();
    struct Case {
        std::string source;
        std::string path;
        std::string expected;
    };
    const std::vector<Case> cases = {
        {kSource, "/var/lib/gpuslots/state.db", "/var/lib/gpuslots/state.db"},
        {kSource, "state.db", "/etc/gpuslots/state.db"},
        {kSource, "./ledger/state.db", "/etc/gpuslots/ledger/state.db"},
        {kSource, "../../srv/gpuslots/state.db", "/srv/gpuslots/state.db"},
        {kSource, "/var/lib/../lib/gpuslots//state.db", "/var/lib/gpuslots/state.db"},
        {"/opt/site/conf/g.yaml", "s.db", "/opt/site/conf/s.db"},
        // A config named relative to the working directory anchors there.
        {"conf/g.yaml", "s.db", (std::filesystem::path(cwd) / "conf/s.db").string()},
        {"g.yaml", "s.db", (std::filesystem::path(cwd) / "s.db").string()},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("source " << c.source << ", path " << c.path) {
            const Config config =
                parse_ok(kOneServer + "state:\n  path: " + c.path + "\n", c.source);
            BOOST_TEST(config.state.sqlite.path == c.expected);
            BOOST_TEST(std::filesystem::path(config.state.sqlite.path).is_absolute());
        }
    }
}

BOOST_AUTO_TEST_CASE(defaults_of_state_and_slurm) {
    const Config c = parse_ok(kOneServer);
    BOOST_TEST(c.state.backend == "sqlite");
    BOOST_TEST(c.state.sqlite.path == "/var/lib/gpuslots/state.db");
    BOOST_TEST((c.state.sqlite.durability == Durability::full));
    BOOST_TEST(c.state.busy_timeout.count() == 10'000);
    BOOST_TEST(c.state.sqlite.write_queue);
    // The prolog wait has no fixed number in the contract: the parser must leave the struct's
    // documented default alone, and that default must be a wait the parser itself would accept.
    BOOST_TEST(c.slurm.prolog_wait.count() == SlurmConfig{}.prolog_wait.count());
    BOOST_TEST(c.slurm.prolog_wait.count() >= 0);
    BOOST_TEST(c.slurm.prolog_wait.count() <= 86'400);
    BOOST_TEST(c.slurm.hide_gpus_without_reservation);
    const std::vector<std::string> env{"CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES",
                                       "ZE_AFFINITY_MASK", "GPU_DEVICE_ORDINAL"};
    BOOST_TEST(c.slurm.visible_devices_env == env, boost::test_tools::per_element());
    // GPU job files for monitoring are off unless asked for.
    BOOST_TEST(c.slurm.dcgm_job_mapping_dir.empty());
    BOOST_TEST(c.slurm.jobstats_dir.empty());
}

BOOST_AUTO_TEST_CASE(explicit_state_and_slurm_keys) {
    const Config c = parse_ok(kOneServer + R"(state:
  backend: sqlite
  path: /srv/ledger.db
  durability: normal
  busy_timeout_ms: 250
  write_queue: false
slurm:
  prolog_wait_seconds: 0
  hide_gpus_without_reservation: false
  visible_devices_env: [ROCR_VISIBLE_DEVICES, MY_GPUS_2]
  dcgm_job_mapping_dir: /var/lib/dcgm-exporter/job-mapping
  jobstats_dir: /run/gpustat
)");
    BOOST_TEST(c.state.sqlite.path == "/srv/ledger.db");
    BOOST_TEST((c.state.sqlite.durability == Durability::normal));
    BOOST_TEST(c.state.busy_timeout.count() == 250);
    BOOST_TEST(!c.state.sqlite.write_queue);
    BOOST_TEST(c.slurm.prolog_wait.count() == 0);
    BOOST_TEST(!c.slurm.hide_gpus_without_reservation);
    const std::vector<std::string> env{"ROCR_VISIBLE_DEVICES", "MY_GPUS_2"};
    BOOST_TEST(c.slurm.visible_devices_env == env, boost::test_tools::per_element());
    BOOST_TEST(c.slurm.dcgm_job_mapping_dir == "/var/lib/dcgm-exporter/job-mapping");
    BOOST_TEST(c.slurm.jobstats_dir == "/run/gpustat");
}

BOOST_AUTO_TEST_CASE(boolean_spellings) {
    struct Case {
        std::string text;
        bool value;
    };
    const std::vector<Case> cases = {
        {"true", true},   {"True", true},   {"yes", true}, {"YES", true},
        {"false", false}, {"False", false}, {"no", false}, {"NO", false},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.text) {
            const Config config =
                parse_ok(kOneServer + "slurm:\n  hide_gpus_without_reservation: " + c.text + "\n");
            BOOST_TEST(config.slurm.hide_gpus_without_reservation == c.value);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(errors)

// Each error must start with "<source>:<line>:<col>: " and contain the key path and the
// words that say what was expected.
BOOST_AUTO_TEST_CASE(errors_name_file_line_column_and_key) {
    struct Case {
        std::string name;
        std::string yaml;
        int line;
        int col;
        std::vector<std::string> contains;
    };
    const std::vector<Case> cases = {
        // Unknown keys, at every level.
        {"unknown top-level key",
         kOneServer + "sever: x\n",
         5,
         1,
         {"top level", "unknown key 'sever'", "servers"}},
        {"unknown key in a servers entry",
         "servers:\n  - name: a\n    gpu: 4\n    cpus: 32\n",
         3,
         5,
         {"servers[0]", "unknown key 'gpu'", "gpus"}},
        {"unknown key in the second servers entry",
         kOneServer + "  - name: b\n    gpus: 1\n    cpus: 1\n    ram: 64\n",
         8,
         5,
         {"servers[1]", "unknown key 'ram'"}},
        {"unknown key in state",
         kOneServer + "state:\n  pth: /x.db\n",
         6,
         3,
         {"state", "unknown key 'pth'", "path"}},
        {"unknown key in requests",
         kOneServer + "requests:\n  gpu: {max: 2}\n",
         6,
         3,
         {"requests", "unknown key 'gpu'"}},
        {"unknown key in requests.gpus",
         kOneServer + "requests:\n  gpus: {mn: 1}\n",
         6,
         10,
         {"requests.gpus", "unknown key 'mn'", "min, max"}},
        {"a server's slurm mode misspelt",
         "servers:\n  - name: a\n    gpus: 4\n    cpus: 32\n    slurm: slot\n",
         5,
         12,
         {"servers[0].slurm: expected slots, follow or none, got 'slot'"}},
        {"unknown key in slurm",
         kOneServer + "slurm:\n  prolog_wait: 3\n",
         6,
         3,
         {"slurm", "unknown key 'prolog_wait'", "prolog_wait_seconds"}},
        // Keys given twice.
        {"duplicate top-level key",
         kOneServer + "state:\n  path: /a.db\nstate:\n  path: /b.db\n",
         7,
         1,
         {"top level", "key 'state' appears twice"}},
        {"duplicate key in a servers entry",
         "servers:\n  - name: a\n    gpus: 1\n    gpus: 2\n    cpus: 1\n",
         4,
         5,
         {"servers[0]", "key 'gpus' appears twice"}},
        {"duplicate key in state",
         kOneServer + "state:\n  durability: full\n  durability: normal\n",
         7,
         3,
         {"state", "key 'durability' appears twice"}},
        // The same server twice.
        {"duplicate server name across entries",
         kOneServer + "  - name: a\n    gpus: 2\n    cpus: 2\n",
         5,
         11,
         {"servers[1].name", "server 'a' is already defined at line 2"}},
        {"overlapping hostlists",
         "servers:\n  - name: n[1-3]\n    gpus: 1\n    cpus: 1\n  - name: n[3-4]\n    gpus: 1\n"
         "    cpus: 1\n",
         5,
         11,
         {"servers[1].name", "server 'n3' is already defined at line 2"}},
        {"duplicate inside one hostlist",
         "servers:\n  - name: n[1-2],n2\n    gpus: 1\n    cpus: 1\n",
         2,
         11,
         {"servers[0].name", "server 'n2'"}},
        // gpus and cpus.
        {"gpus a word",
         "servers:\n  - name: a\n    gpus: four\n    cpus: 1\n",
         3,
         11,
         {"servers[0].gpus", "positive integer", "'four'"}},
        {"gpus zero",
         "servers:\n  - name: a\n    gpus: 0\n    cpus: 1\n",
         3,
         11,
         {"servers[0].gpus", "positive integer", "0", "1..1024"}},
        {"gpus negative",
         "servers:\n  - name: a\n    gpus: -1\n    cpus: 1\n",
         3,
         11,
         {"servers[0].gpus", "positive integer", "-1"}},
        {"gpus fractional",
         "servers:\n  - name: a\n    gpus: 4.5\n    cpus: 1\n",
         3,
         11,
         {"servers[0].gpus", "positive integer", "'4.5'"}},
        {"gpus hexadecimal",
         "servers:\n  - name: a\n    gpus: 0x10\n    cpus: 1\n",
         3,
         11,
         {"servers[0].gpus", "'0x10'"}},
        {"gpus a list",
         "servers:\n  - name: a\n    gpus: [4]\n    cpus: 1\n",
         3,
         11,
         {"servers[0].gpus", "positive integer", "a list"}},
        {"gpus a mapping",
         "servers:\n  - name: a\n    gpus: {n: 4}\n    cpus: 1\n",
         3,
         11,
         {"servers[0].gpus", "a mapping"}},
        {"gpus above the per-server bound",
         "servers:\n  - name: a\n    gpus: 1025\n    cpus: 1\n",
         3,
         11,
         {"servers[0].gpus", "1025", "1..1024"}},
        {"gpus overflowing",
         "servers:\n  - name: a\n    gpus: 99999999999999999999\n    cpus: 1\n",
         3,
         11,
         {"servers[0].gpus", "positive integer"}},
        {"cpus a word",
         "servers:\n  - name: a\n    gpus: 1\n    cpus: many\n",
         4,
         11,
         {"servers[0].cpus", "positive integer", "'many'"}},
        {"cpus zero",
         "servers:\n  - name: a\n    gpus: 1\n    cpus: 0\n",
         4,
         11,
         {"servers[0].cpus", "positive integer"}},
        {"cpus negative",
         "servers:\n  - name: a\n    gpus: 1\n    cpus: -1\n",
         4,
         11,
         {"servers[0].cpus", "positive integer"}},
        {"cpus fractional",
         "servers:\n  - name: a\n    gpus: 1\n    cpus: 4.5\n",
         4,
         11,
         {"servers[0].cpus", "'4.5'"}},
        {"cpus a list",
         "servers:\n  - name: a\n    gpus: 1\n    cpus: [1, 2]\n",
         4,
         11,
         {"servers[0].cpus", "a list"}},
        // Names.
        {"malformed hostlist",
         "servers:\n  - name: n[1-3\n    gpus: 1\n    cpus: 1\n",
         2,
         11,
         {"servers[0].name", "hostlist 'n[1-3'", "'[' without ']'"}},
        {"hostlist running backwards",
         "servers:\n  - name: n[3-1]\n    gpus: 1\n    cpus: 1\n",
         2,
         11,
         {"servers[0].name", "backwards"}},
        {"name with a space",
         "servers:\n  - name: gpu 1\n    gpus: 1\n    cpus: 1\n",
         2,
         11,
         {"servers[0].name", "not allowed"}},
        {"name a list",
         "servers:\n  - name: [a, b]\n    gpus: 1\n    cpus: 1\n",
         2,
         11,
         {"servers[0].name", "non-empty string", "a list"}},
        {"name empty",
         "servers:\n  - name: ''\n    gpus: 1\n    cpus: 1\n",
         2,
         11,
         {"servers[0].name", "non-empty string"}},
        // Missing keys in an entry: the entry is named.
        {"missing name",
         "servers:\n  - gpus: 1\n    cpus: 1\n",
         2,
         5,
         {"servers[0]", "missing key 'name'"}},
        {"missing gpus",
         "servers:\n  - name: a\n    cpus: 1\n",
         2,
         5,
         {"servers[0]", "missing key 'gpus'"}},
        {"missing cpus",
         kOneServer + "  - name: b\n    gpus: 1\n",
         5,
         5,
         {"servers[1]", "missing key 'cpus'"}},
        {"entry not a mapping",
         "servers:\n  - gpu1\n",
         2,
         5,
         {"servers[0]", "expected a mapping", "'gpu1'"}},
        // The servers list itself.
        {"servers a scalar", "servers: gpu1\n", 1, 10, {"servers", "expected a list", "'gpu1'"}},
        {"servers a mapping",
         "servers: {name: a, gpus: 1, cpus: 1}\n",
         1,
         10,
         {"servers", "expected a list", "a mapping"}},
        {"servers an empty list", "servers: []\n", 1, 10, {"servers", "expected a list"}},
        {"no servers at all", "state:\n  path: /x.db\n", 1, 1, {"missing key 'servers'"}},
        {"top level a list", "- a\n- b\n", 1, 1, {"top level", "expected a mapping"}},
        {"top level a scalar", "hello\n", 1, 1, {"top level", "expected a mapping"}},
        // Shorthand.
        {"servers and shorthand",
         "total_servers: 2\n" + kOneServer,
         3,
         3,
         {"servers", "total_servers", "not both"}},
        {"partial shorthand, no cpus",
         "total_servers: 2\ngpus_per_server: 4\n",
         1,
         1,
         {"missing key 'cpus_per_server'", "together"}},
        {"partial shorthand, only gpus",
         "gpus_per_server: 4\n",
         1,
         1,
         {"missing key 'total_servers'"}},
        {"shorthand zero servers",
         "total_servers: 0\ngpus_per_server: 4\ncpus_per_server: 32\n",
         1,
         16,
         {"total_servers", "positive integer"}},
        {"shorthand gpus a word",
         "total_servers: 2\ngpus_per_server: four\ncpus_per_server: 32\n",
         2,
         18,
         {"gpus_per_server", "'four'"}},
        // state.
        {"bad durability",
         kOneServer + "state:\n  durability: fast\n",
         6,
         15,
         {"state.durability", "full or normal", "'fast'"}},
        {"unknown backend",
         kOneServer + "state:\n  backend: mysql\n",
         6,
         12,
         {"state.backend", "'mysql'", "sqlite"}},
        {"empty path",
         kOneServer + "state:\n  path: ''\n",
         6,
         9,
         {"state.path", "non-empty string"}},
        {"path naming a directory",
         kOneServer + "state:\n  path: /var/lib/gpuslots/\n",
         6,
         9,
         {"state.path", "directory"}},
        {"write queue not a boolean",
         kOneServer + "state:\n  write_queue: sometimes\n",
         6,
         16,
         {"state.write_queue", "true or false"}},
        {"busy timeout zero",
         kOneServer + "state:\n  busy_timeout_ms: 0\n",
         6,
         20,
         {"state.busy_timeout_ms", "milliseconds"}},
        {"busy timeout with a unit",
         kOneServer + "state:\n  busy_timeout_ms: 10s\n",
         6,
         20,
         {"state.busy_timeout_ms", "'10s'"}},
        {"state a scalar", kOneServer + "state: /x.db\n", 5, 8, {"state", "expected a mapping"}},
        // slurm.
        {"bad boolean",
         kOneServer + "slurm:\n  hide_gpus_without_reservation: maybe\n",
         6,
         34,
         {"slurm.hide_gpus_without_reservation", "true or false", "'maybe'"}},
        {"boolean as a number",
         kOneServer + "slurm:\n  hide_gpus_without_reservation: 2\n",
         6,
         34,
         {"slurm.hide_gpus_without_reservation", "true or false"}},
        {"negative prolog wait",
         kOneServer + "slurm:\n  prolog_wait_seconds: -1\n",
         6,
         24,
         {"slurm.prolog_wait_seconds", "seconds"}},
        {"prolog wait above a day",
         kOneServer + "slurm:\n  prolog_wait_seconds: 86401\n",
         6,
         24,
         {"slurm.prolog_wait_seconds", "0..86400"}},
        {"visible_devices_env with a dash",
         kOneServer + "slurm:\n  visible_devices_env:\n    - CUDA_VISIBLE_DEVICES\n    - MY-GPUS\n",
         8,
         7,
         {"slurm.visible_devices_env[1]", "'MY-GPUS'", "environment variable name"}},
        {"visible_devices_env starting with a digit",
         kOneServer + "slurm:\n  visible_devices_env: [1GPU]\n",
         6,
         25,
         {"slurm.visible_devices_env[0]", "'1GPU'"}},
        {"visible_devices_env with '='",
         kOneServer + "slurm:\n  visible_devices_env: ['A=B']\n",
         6,
         25,
         {"slurm.visible_devices_env[0]", "'A=B'"}},
        {"dcgm_job_mapping_dir relative",
         kOneServer + "slurm:\n  dcgm_job_mapping_dir: job-mapping\n",
         6,
         25,
         {"slurm.dcgm_job_mapping_dir", "absolute directory path", "'job-mapping'"}},
        {"jobstats_dir empty",
         kOneServer + "slurm:\n  jobstats_dir: ''\n",
         6,
         17,
         {"slurm.jobstats_dir", "non-empty string"}},
        {"jobstats_dir a list",
         kOneServer + "slurm:\n  jobstats_dir: [/run/gpustat]\n",
         6,
         17,
         {"slurm.jobstats_dir"}},
        {"visible_devices_env a scalar",
         kOneServer + "slurm:\n  visible_devices_env: CUDA_VISIBLE_DEVICES\n",
         6,
         24,
         {"slurm.visible_devices_env", "expected a list"}},
        // requests.
        {"requests min above max",
         kOneServer + "requests:\n  gpus: {min: 3, max: 2}\n",
         6,
         9,
         {"requests.gpus", "min (3) is larger than max (2)"}},
        {"requests min above max, block style",
         kOneServer + "requests:\n  cpus:\n    min: 8\n    max: 4\n",
         7,
         5,
         {"requests.cpus", "min (8) is larger than max (4)"}},
        {"requests gpus max above the largest server",
         kOneServer + "requests:\n  gpus: {max: 5}\n",
         6,
         15,
         {"requests.gpus.max", "5", "1..4"}},
        {"requests cpus max above the largest server",
         kOneServer + "requests:\n  cpus: {max: 33}\n",
         6,
         15,
         {"requests.cpus.max", "33", "1..32"}},
        {"requests gpus min above the largest server",
         kOneServer + "requests:\n  gpus: {min: 5}\n",
         6,
         15,
         {"requests.gpus.min", "5"}},
        {"requests negative cpus",
         kOneServer + "requests:\n  cpus: {min: -1}\n",
         6,
         15,
         {"requests.cpus.min", "-1"}},
        {"requests max zero",
         kOneServer + "requests:\n  gpus: {max: 0}\n",
         6,
         15,
         {"requests.gpus.max"}},
        {"requests a word",
         kOneServer + "requests:\n  gpus: {max: all}\n",
         6,
         15,
         {"requests.gpus.max", "'all'"}},
        // YAML itself: the parser's own position.
        {"unclosed flow sequence", "servers: [\n", 2, 1, {"not valid YAML"}},
        {"unclosed flow sequence mid-file", "key: [a, b\nother: 1\n", 2, 6, {"not valid YAML"}},
        {"map value in a plain scalar", "a: b: c\n", 1, 5, {"not valid YAML"}},
        {"tab indentation",
         "servers:\n  - name: a\n    gpus: 1\n\tcpus: 1\n",
         4,
         1,
         {"not valid YAML", "tab"}},
        {"bad indentation", kOneServer + "  - name: b\n   gpus: 1\n", 6, 4, {"not valid YAML"}},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.name) {
            auto config = parse_config(c.yaml, kSource);
            BOOST_TEST_REQUIRE(!config.ok());
            BOOST_TEST((config.error().code == Errc::config));
            const std::string& message = config.error().message;
            const std::string prefix =
                kSource + ":" + std::to_string(c.line) + ":" + std::to_string(c.col) + ": ";
            BOOST_TEST(message.rfind(prefix, 0) == 0,
                       "message '" << message << "' does not start with '" << prefix << "'");
            for (const auto& part : c.contains) {
                BOOST_TEST(message.find(part) != std::string::npos,
                           "message '" << message << "' lacks '" << part << "'");
            }
            BOOST_TEST(message.find('\n') == std::string::npos, "message is not one line");
        }
    }
}

BOOST_AUTO_TEST_CASE(empty_file_says_so) {
    for (const char* text : {"", "\n\n", "# only a comment\n", "---\n"}) {
        BOOST_TEST_CONTEXT("text '" << text << "'") {
            auto config = parse_config(text, kSource);
            BOOST_TEST_REQUIRE(!config.ok());
            BOOST_TEST((config.error().code == Errc::config));
            // No position to give: the file names itself and says what it needs.
            BOOST_TEST(config.error().message.rfind(kSource + ": ", 0) == 0,
                       config.error().message);
            BOOST_TEST(config.error().message.find("empty") != std::string::npos);
            BOOST_TEST(config.error().message.find("servers") != std::string::npos);
        }
    }
}

// An empty value ("gpus:" with nothing after it) must be reported on its own line, not on
// the line of whatever key comes next (or past the end of the file).
BOOST_AUTO_TEST_CASE(empty_values_are_reported_at_their_own_line) {
    struct Case {
        std::string name;
        std::string yaml;
        int line;
        std::string key;
    };
    const std::vector<Case> cases = {
        {"empty gpus", "servers:\n  - name: a\n    gpus:\n    cpus: 1\n", 3, "servers[0].gpus"},
        {"empty servers", "servers:\nstate:\n  path: /x.db\n", 1, "servers"},
        {"empty state at the end of the file", kOneServer + "state:\n", 5, "state"},
        {"empty slurm at the end of the file", kOneServer + "slurm:\n", 5, "slurm"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.name) {
            auto config = parse_config(c.yaml, kSource);
            BOOST_TEST_REQUIRE(!config.ok());
            const std::string& message = config.error().message;
            BOOST_TEST(message.find(c.key) != std::string::npos, message);
            const std::string prefix = kSource + ":" + std::to_string(c.line) + ":";
            BOOST_TEST(message.rfind(prefix, 0) == 0,
                       "message '" << message << "' does not start with '" << prefix << "'");
        }
    }
}

// A ledger path must name a file: these all name a directory.
BOOST_AUTO_TEST_CASE(state_path_naming_a_directory_is_refused) {
    for (const char* path : {"/var/lib/gpuslots/", ".", "..", "/", "sub/.."}) {
        BOOST_TEST_CONTEXT("state.path " << path) {
            auto config = parse_config(kOneServer + "state:\n  path: '" + path + "'\n", kSource);
            BOOST_TEST(!config.ok(), "accepted; ledger path would be "
                                         << (config.ok() ? config->state.sqlite.path : ""));
            if (!config.ok()) {
                BOOST_TEST(config.error().message.rfind(kSource + ":6:9: state.path", 0) == 0,
                           config.error().message);
            }
        }
    }
}

// A second YAML document would be ignored entirely: an unknown key in it must not pass. The
// error points at the start of that document, its '---'.
BOOST_AUTO_TEST_CASE(a_second_yaml_document_is_an_error) {
    auto config = parse_config(kOneServer + "---\ntotal_servers: 9\n", kSource);
    BOOST_TEST(!config.ok(), "the second document was silently ignored");
    if (!config.ok()) {
        BOOST_TEST(config.error().message.rfind(kSource + ":5:1: ", 0) == 0,
                   config.error().message);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(files)

BOOST_AUTO_TEST_CASE(load_config_reads_a_file_and_anchors_relative_paths_there) {
    TempDir dir;
    const std::string path = dir.file("gpuslots.yaml");
    write_file(path, kOneServer + "state:\n  path: ledger/state.db\n");
    auto config = load_config(path);
    BOOST_TEST_REQUIRE(config.ok(), why(config));
    BOOST_TEST(config->source == path);
    BOOST_TEST(config->state.sqlite.path == (dir.path() / "ledger/state.db").string());
    BOOST_TEST(describe(config->fleet) == "a:4/32");
}

BOOST_AUTO_TEST_CASE(load_config_on_a_missing_file) {
    TempDir dir;
    const std::string path = dir.file("absent.yaml");
    auto config = load_config(path);
    BOOST_TEST_REQUIRE(!config.ok());
    BOOST_TEST((config.error().code == Errc::config));
    const std::string& message = config.error().message;
    BOOST_TEST(message.find(path) != std::string::npos, message);
    BOOST_TEST(message.find("No such file") != std::string::npos, message);
    // What to do about it: the example to start from and the two ways to point elsewhere.
    BOOST_TEST(message.find("etc/gpuslots.yaml") != std::string::npos, message);
    BOOST_TEST(message.find("--config") != std::string::npos, message);
    BOOST_TEST(message.find("GPUSLOTS_CONFIG") != std::string::npos, message);
}

BOOST_AUTO_TEST_CASE(load_config_on_a_directory) {
    TempDir dir;
    auto config = load_config(dir.path().string());
    BOOST_TEST_REQUIRE(!config.ok());
    BOOST_TEST((config.error().code == Errc::config));
    BOOST_TEST(config.error().message.find(dir.path().string()) != std::string::npos,
               config.error().message);
}

BOOST_AUTO_TEST_CASE(load_config_errors_name_the_file) {
    TempDir dir;
    const std::string path = dir.file("bad.yaml");
    write_file(path, kOneServer + "state:\n  durability: fast\n");
    auto config = load_config(path);
    BOOST_TEST_REQUIRE(!config.ok());
    BOOST_TEST(config.error().message.rfind(path + ":6:15: state.durability", 0) == 0,
               config.error().message);
}

// Restores $GPUSLOTS_CONFIG as it was when the test started.
class ConfigEnv {
  public:
    ConfigEnv() {
        if (const char* v = std::getenv(kConfigEnvVar)) saved_ = v;
    }
    ~ConfigEnv() {
        if (saved_) {
            ::setenv(kConfigEnvVar, saved_->c_str(), 1);
        } else {
            ::unsetenv(kConfigEnvVar);
        }
    }
    ConfigEnv(const ConfigEnv&) = delete;
    ConfigEnv& operator=(const ConfigEnv&) = delete;

  private:
    std::optional<std::string> saved_;
};

BOOST_AUTO_TEST_CASE(resolve_config_path_order) {
    ConfigEnv restore;
    struct Case {
        std::string name;
        std::optional<std::string> explicit_path;
        std::optional<std::string> env;  // nullopt: unset
        std::string expected;
    };
    const std::vector<Case> cases = {
        {"explicit beats the environment", "/a.yaml", "/b.yaml", "/a.yaml"},
        {"explicit alone", "/a.yaml", std::nullopt, "/a.yaml"},
        {"environment when nothing explicit", std::nullopt, "/b.yaml", "/b.yaml"},
        {"default when neither", std::nullopt, std::nullopt, kDefaultConfigPath},
        {"an empty environment variable counts as unset", std::nullopt, "", kDefaultConfigPath},
        {"relative paths are kept as given", "conf/g.yaml", "/b.yaml", "conf/g.yaml"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.name) {
            if (c.env) {
                ::setenv(kConfigEnvVar, c.env->c_str(), 1);
            } else {
                ::unsetenv(kConfigEnvVar);
            }
            BOOST_TEST(resolve_config_path(c.explicit_path) == c.expected);
        }
    }
    BOOST_TEST(std::string(kDefaultConfigPath) == "/etc/gpuslots/gpuslots.yaml");
    BOOST_TEST(std::string(kConfigEnvVar) == "GPUSLOTS_CONFIG");
}

BOOST_AUTO_TEST_CASE(example_config_in_the_repository_parses) {
    const std::string path = std::string(GPUSLOTS_SOURCE_DIR) + "/etc/gpuslots.yaml";
    auto example = load_config(path);
    BOOST_TEST_REQUIRE(example.ok(), why(example));
    BOOST_TEST(example->fleet.size() > 0u);
    for (const auto& s : example->fleet.servers())
        BOOST_TEST(is_valid_node_name(s.name));
    BOOST_TEST(std::filesystem::path(example->state.sqlite.path).is_absolute());
    // The example spells out every default; a file without those keys must mean the same.
    const Config defaults = parse_ok(kOneServer);
    BOOST_TEST(example->state.backend == defaults.state.backend);
    BOOST_TEST(example->state.sqlite.path == defaults.state.sqlite.path);
    BOOST_TEST((example->state.sqlite.durability == defaults.state.sqlite.durability));
    BOOST_TEST(example->state.busy_timeout.count() == defaults.state.busy_timeout.count());
    BOOST_TEST(example->slurm.prolog_wait.count() == defaults.slurm.prolog_wait.count(),
               path << " sets prolog_wait_seconds " << example->slurm.prolog_wait.count()
                    << " and calls it the default, but the default is "
                    << defaults.slurm.prolog_wait.count());
    BOOST_TEST(example->slurm.hide_gpus_without_reservation ==
               defaults.slurm.hide_gpus_without_reservation);
    BOOST_TEST(example->slurm.visible_devices_env == defaults.slurm.visible_devices_env,
               boost::test_tools::per_element());
    // Its requests section restates the defaults for its own fleet.
    BOOST_TEST(example->gpus_per_request.min == 1);
    BOOST_TEST(example->gpus_per_request.max == example->fleet.max_gpus());
    BOOST_TEST(example->cpus_per_request.min == 0);
    BOOST_TEST(example->cpus_per_request.max == example->fleet.max_cpus());
}

BOOST_AUTO_TEST_SUITE_END()
