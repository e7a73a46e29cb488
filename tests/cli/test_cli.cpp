// The `gpuslots` admin tool as a whole process: the exit code of every documented class of
// failure, one-line errors, damaged ledgers left untouched, and what a user who is not root
// may do.
//
// What the tool prints is checked by the case files in tests/cli/cases/ (tests/cli/README.md);
// these tests check what text comparison cannot. Every test writes its own config (2 servers
// x 4 GPUs x 32 CPUs) and ledger into a fresh temporary directory.
#define BOOST_TEST_MODULE cli
#include <boost/test/unit_test.hpp>

// property_tree's JSON parser still includes the deprecated <boost/bind.hpp> (Boost 1.74),
// which prints a #pragma message on every build unless told to keep the old placeholders.
#define BOOST_BIND_GLOBAL_PLACEHOLDERS
#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include <pwd.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gpuslots/config.hpp"
#include "gpuslots/ledger.hpp"
#include "support/bounded.hpp"
#include "support/fixtures.hpp"

using gpuslots::test::read_file;
using gpuslots::test::Run;
using gpuslots::test::run_process;
using gpuslots::test::TempDir;
using gpuslots::test::write_file;

namespace {

// The documented exit codes (gpuslots --help; the help_lists_exit_codes test checks them).
constexpr int kOk = 0;
constexpr int kBadInput = 2;
constexpr int kUnavailable = 3;
constexpr int kUnusable = 4;
constexpr int kDenied = 5;

constexpr int kNobodyUid = 65534;

const std::string kFleetYaml = R"(servers:
  - name: gpu-server-[0-1]
    gpus: 4
    cpus: 32
state:
  path: state.db
)";

// A config and its ledger in a temporary directory, and the tool run against them.
class Site {
  public:
    explicit Site(const std::string& yaml = kFleetYaml) { write_file(config(), yaml); }

    std::string config() const { return dir_.file("gpuslots.yaml"); }
    std::string ledger() const { return dir_.file("state.db"); }
    const std::filesystem::path& dir() const { return dir_.path(); }

    Run cli(const std::vector<std::string>& args, int as_uid = -1,
            const std::string& input = "") const {
        std::vector<std::string> argv{GPUSLOTS_CLI, "--config", config()};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_process(argv, input, as_uid);
    }

    // Runs `args`, which must succeed, and returns its stdout.
    std::string ok(const std::vector<std::string>& args) const {
        const Run r = cli(args);
        BOOST_TEST_REQUIRE(r.exit_code == kOk, "gpuslots failed: " << r.err);
        return r.out;
    }

    // The directory replaced by "@DIR@", so output compares against a fixed file.
    std::string portable(std::string text) const {
        const std::string dir = dir_.path().string();
        for (std::size_t at = text.find(dir); at != std::string::npos;
             at = text.find(dir, at + 5)) {
            text.replace(at, dir.size(), "@DIR@");
        }
        return text;
    }

    // The ledger's contents as the tool reports them, for "nothing was changed" checks.
    std::string snapshot() const { return normalise_json(cli({"status", "--json"}).out); }

    static std::string normalise_json(const std::string& json) {
        static const std::regex since(R"("since":"[^"]*")");
        static const std::regex owner(R"("owner":"[^"]*")");
        static const std::regex owner_uid(R"("owner_uid":[0-9]+)");
        static const std::regex boot_id(R"("boot_id":"[^"]*")");
        std::string out = std::regex_replace(json, since, R"("since":"@SINCE@")");
        out = std::regex_replace(out, boot_id, R"("boot_id":"@BOOT@")");
        out = std::regex_replace(out, owner, R"("owner":"@OWNER@")");
        return std::regex_replace(out, owner_uid, R"("owner_uid":@UID@)");
    }

  private:
    TempDir dir_;
};

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// A failure: the documented code, nothing on stdout (unless allowed), and exactly one line on
// stderr that starts with "gpuslots: " and says what was wrong.
void expect_failure(const Run& r, int code, const std::vector<std::string>& message_parts,
                    bool stdout_may_have_output = false) {
    BOOST_TEST(r.exit_code == code, "exit code " << r.exit_code << ", stderr: " << r.err);
    if (!stdout_may_have_output) BOOST_TEST(r.out.empty(), "stdout: " << r.out);
    BOOST_TEST(r.err.rfind("gpuslots: ", 0) == 0, "stderr: " << r.err);
    BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1,
               "stderr is not exactly one line: " << r.err);
    BOOST_TEST((!r.err.empty() && r.err.back() == '\n'), "stderr: " << r.err);
    for (const auto& part : message_parts) {
        BOOST_TEST(contains(r.err, part), "stderr '" << r.err << "' lacks '" << part << "'");
    }
}

boost::property_tree::ptree parse_json(const std::string& text) {
    boost::property_tree::ptree tree;
    std::istringstream in(text);
    try {
        boost::property_tree::read_json(in, tree);
    } catch (const boost::property_tree::json_parser_error& e) {
        BOOST_FAIL("not valid JSON (" << e.what() << "): " << text);
    }
    return tree;
}

std::vector<int> int_list(const boost::property_tree::ptree& array) {
    std::vector<int> out;
    for (const auto& item : array)
        out.push_back(item.second.get_value<int>());
    return out;
}

// Runs SQL on a database file with the SQLite C API (to build damaged ledgers).
void sqlite_exec(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    int rc =
        sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    char* message = nullptr;
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    const std::string why = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    sqlite3_close(db);
    BOOST_TEST_REQUIRE(rc == SQLITE_OK, "sqlite: " << why);
}

boost::test_tools::assertion_result running_as_root(boost::unit_test::test_unit_id) {
    boost::test_tools::assertion_result result(::geteuid() == 0 &&
                                               ::getpwuid(kNobodyUid) != nullptr);
    if (!result) {
        result.message() << "SKIPPED: these cases switch to user nobody (uid " << kNobodyUid
                         << ") and need root; running as uid " << ::geteuid()
                         << (::getpwuid(kNobodyUid) == nullptr ? ", and uid 65534 does not exist"
                                                               : "");
    }
    return result;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(output)

BOOST_AUTO_TEST_CASE(allocate_status_release_round_trip) {
    Site site;
    const std::string allocated = site.ok({"allocate", "test_001", "2", "16"});
    // Whatever the policy picks: one server of the config, two distinct indices below 4.
    std::smatch m;
    const std::regex line(
        R"(allocated test_001 on (gpu-server-[01]): GPUs \[([0-3]),([0-3])\] and 16 CPUs
)");
    BOOST_TEST_REQUIRE(std::regex_match(allocated, m, line), allocated);
    BOOST_TEST(m[2].str() != m[3].str());
    const std::string server = m[1].str();

    const std::string table = site.ok({"status"});
    const std::string total_line = table.substr(table.rfind("TOTAL"));
    BOOST_TEST(contains(total_line, " 6/8 "), total_line);
    BOOST_TEST(contains(total_line, " 48/64 "), total_line);

    const std::string json = site.ok({"status", "--json"});
    // The spec's keys, found in the parsed object, not just in the text.
    BOOST_TEST(contains(json, R"("totals":{"gpus_total":8,"gpus_free":6,)"), json);
    const auto tree = parse_json(json);
    BOOST_TEST(tree.get<int>("totals.gpus_total") == 8);
    BOOST_TEST(tree.get<int>("totals.gpus_free") == 6);
    BOOST_TEST(tree.get<int>("totals.cpus_total") == 64);
    BOOST_TEST(tree.get<int>("totals.cpus_free") == 48);
    BOOST_TEST(tree.get<int>("totals.tasks") == 1);
    int tasks_seen = 0;
    for (const auto& s : tree.get_child("servers")) {
        const auto& srv = s.second;
        BOOST_TEST(srv.get<int>("gpus_total") == 4);
        BOOST_TEST(srv.get<int>("cpus_total") == 32);
        for (const auto& t : srv.get_child("tasks")) {
            ++tasks_seen;
            BOOST_TEST(srv.get<std::string>("name") == server);
            BOOST_TEST(t.second.get<std::string>("id") == "test_001");
            BOOST_TEST(t.second.get<int>("cpus") == 16);
            const std::vector<int> gpus = int_list(t.second.get_child("gpus"));
            BOOST_TEST(gpus.size() == 2u);
            BOOST_TEST(std::set<int>(gpus.begin(), gpus.end()).size() == 2u);
            BOOST_TEST(srv.get<int>("gpus_free") == 2);
            BOOST_TEST(srv.get<int>("cpus_free") == 16);
            // The owner is whoever ran allocate, and "since" is a UTC time of about now.
            const passwd* me = ::getpwuid(::getuid());
            if (::getuid() != 0 || std::getenv("SUDO_UID") == nullptr) {
                BOOST_TEST(t.second.get<unsigned>("owner_uid") == ::getuid());
                if (me != nullptr) BOOST_TEST(t.second.get<std::string>("owner") == me->pw_name);
            }
            const std::string since = t.second.get<std::string>("since");
            BOOST_TEST(std::regex_match(since, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")),
                       since);
            std::tm tm{};
            ::strptime(since.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
            const std::time_t at = ::timegm(&tm);
            BOOST_TEST(std::abs(std::difftime(std::time(nullptr), at)) < 600.0, since);
        }
    }
    BOOST_TEST(tasks_seen == 1);

    // Release gives back exactly what allocate took: the status of an empty ledger again.
    const Site empty;
    site.ok({"release", "test_001"});
    BOOST_TEST(site.ok({"status"}) == empty.ok({"status"}));
}

BOOST_AUTO_TEST_CASE(best_fit_through_the_tool) {
    Site site;
    struct Step {
        std::string task;
        std::string gpus;
        std::string cpus;
        std::string server;
        std::vector<int> indices;
    };
    // gpu-server-0 fills first; a request that no longer fits there goes to gpu-server-1; a
    // small one then goes back to the fuller gpu-server-0.
    const std::vector<Step> steps = {
        {"a", "3", "8", "gpu-server-0", {0, 1, 2}},
        {"b", "2", "8", "gpu-server-1", {0, 1}},
        {"c", "1", "8", "gpu-server-0", {3}},
        {"d", "2", "1", "gpu-server-1", {2, 3}},
    };
    for (const auto& s : steps) {
        BOOST_TEST_CONTEXT("allocate " << s.task) {
            const auto tree = parse_json(site.ok({"allocate", s.task, s.gpus, s.cpus, "--json"}));
            BOOST_TEST(tree.get<std::string>("server") == s.server);
            BOOST_TEST(int_list(tree.get_child("gpus")) == s.indices,
                       boost::test_tools::per_element());
        }
    }
    const Run full = site.cli({"allocate", "e", "1", "1"});
    expect_failure(full, kUnavailable, {"no server has 1 GPU and 1 CPU free"});
    // After releasing "a", its indices are handed out again, lowest first.
    site.ok({"release", "a"});
    const auto again = parse_json(site.ok({"allocate", "e", "2", "1", "--json"}));
    BOOST_TEST(again.get<std::string>("server") == "gpu-server-0");
    BOOST_TEST(int_list(again.get_child("gpus")) == (std::vector<int>{0, 1}),
               boost::test_tools::per_element());
}

// Servers Slurm schedules by the slots, one that follows gres/gpu, and one it does not.
const std::string kScheduledYaml = R"(servers:
  - {name: 'n[1-3]', gpus: 4, cpus: 8, slurm: slots}
  - {name: big, gpus: 8, cpus: 64, slurm: slots}
  - {name: g1, gpus: 8, cpus: 64, slurm: follow}
  - {name: ws, gpus: 1, cpus: 4}
state:
  path: state.db
)";

BOOST_AUTO_TEST_CASE(check_config_compares_with_slurm_where_slurm_schedules) {
    Site site(kScheduledYaml);
    // No Slurm here (its commands are not on PATH): the comparison cannot be made, and says so.
    const Run r = run_process({GPUSLOTS_CLI, "--config", site.config(), "check-config"}, "", -1,
                              {"PATH=/nonexistent"});
    BOOST_TEST(r.exit_code == kUnusable, r.err);
    BOOST_TEST(contains(site.portable(r.out), "config @DIR@/gpuslots.yaml: OK"), r.out);
    BOOST_TEST(r.err ==
               "gpuslots: slurm: cannot ask slurmctld: scontrol not found on PATH (is "
               "Slurm installed here?)\n");
    const Run skipped =
        run_process({GPUSLOTS_CLI, "--config", site.config(), "check-config", "--no-slurm"}, "", -1,
                    {"PATH=/nonexistent"});
    BOOST_TEST(skipped.exit_code == kOk, skipped.err);
    BOOST_TEST(contains(skipped.out, "slurmctld: not compared (--no-slurm)"), skipped.out);
}

BOOST_AUTO_TEST_CASE(a_booking_on_a_server_slurm_schedules_needs_slurm) {
    Site site(kScheduledYaml);
    site.ok({"allocate", "warm-up", "1", "1", "--server", "ws"});  // not scheduled: ledger only
    {  // The ledger of a host whose slurmd run n1 and n2 (as their plugins' start claims it):
       // it keeps their books, so bookings there are its to make.
        auto config = gpuslots::load_config(site.config());
        BOOST_TEST_REQUIRE(config.ok());
        auto ledger = gpuslots::open_ledger(*config, gpuslots::Ledger::Access::read_write);
        BOOST_TEST_REQUIRE(ledger.ok());
        for (const char* node : {"n1", "n2"})
            BOOST_TEST_REQUIRE((*ledger)->release_before_boot(node, "this-boot").ok());
    }
    const std::string before = site.snapshot();
    // n3's jobs are booked in n3's own ledger: refused before Slurm is asked (exit 2).
    expect_failure(site.cli({"allocate", "t", "1", "1", "--server", "n3"}), kBadInput,
                   {"n3's slots are not booked in this ledger", "node ledger of n1,n2"});
    BOOST_TEST(site.snapshot() == before);
    // n1 is scheduled by the slots: the booking must hold a Slurm job first, and there is no
    // Slurm here. Nothing is booked.
    const Run r = run_process(
        {GPUSLOTS_CLI, "--config", site.config(), "allocate", "t", "2", "4", "--server", "n1"}, "",
        -1, {"PATH=/nonexistent"});
    expect_failure(r, kUnusable, {"salloc not found on PATH"});
    BOOST_TEST(site.snapshot() == before);
    // A user who owns the ledger but is not root cannot submit root's holder job.
    if (::geteuid() == 0) {
        // nobody owns the ledger, its directory and its files (as 'chown -R' leaves them).
        ::chown(site.dir().c_str(), kNobodyUid, kNobodyUid);
        for (const auto& e : std::filesystem::recursive_directory_iterator(site.dir())) {
            ::lchown(e.path().c_str(), kNobodyUid, kNobodyUid);
        }
        expect_failure(site.cli({"allocate", "t", "1", "1", "--server", "n2"}, kNobodyUid), kDenied,
                       {"n2 is scheduled by Slurm", "only root"});
        BOOST_TEST(site.snapshot() == before);
    }
    expect_failure(site.cli({"allocate", "t", "1", "1", "--server", "n1", "--wait", "0"}),
                   kBadInput, {"--wait: 0 is out of range; allowed: 1..3600"});
}

BOOST_AUTO_TEST_CASE(help_lists_exit_codes) {
    const Run r = run_process({GPUSLOTS_CLI, "--help"});
    BOOST_TEST(r.exit_code == kOk);
    for (const char* line : {
             "Exit codes:\n",
             "  0  success\n",
             "  1  internal error",
             "  2  bad input",
             "  3  does not fit, not found, or already exists",
             "  4  config or ledger unusable",
             "  5  permission denied",
         }) {
        BOOST_TEST(contains(r.out, line), "--help lacks '" << line << "'");
    }
    for (const char* sub : {"status", "allocate", "release", "reset", "check-config"}) {
        BOOST_TEST(contains(r.out, std::string("  ") + sub + " "), "--help lacks " << sub);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(exit_codes)

struct FailureCase {
    std::string name;
    std::vector<std::string> args;
    std::vector<std::string> message_parts;
    std::string input = "";
};

// Runs each case against a ledger that holds test_001 (2 GPUs, 16 CPUs) and checks the code,
// the one-line message, and that the ledger reads the same afterwards.
void run_failure_table(const std::vector<FailureCase>& cases, int code,
                       const std::vector<std::vector<std::string>>& setup = {}) {
    Site site;
    site.ok({"allocate", "test_001", "2", "16"});
    for (const auto& step : setup)
        site.ok(step);
    const std::string before = site.snapshot();
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.name) {
            expect_failure(site.cli(c.args, -1, c.input), code, c.message_parts);
            BOOST_TEST(site.snapshot() == before, "the ledger changed");
        }
    }
}

BOOST_AUTO_TEST_CASE(bad_input_is_2) {
    const std::string too_long(129, 'a');
    run_failure_table(
        {
            {"no subcommand", {}, {"subcommand"}},
            {"unknown option", {"status", "--bogus"}, {"--bogus", "gpuslots --help"}},
            {"unknown global option", {"--bogus", "status"}, {"--bogus"}},
            {"allocate without arguments", {"allocate"}, {"TASK_ID"}},
            {"allocate without GPUS", {"allocate", "x"}, {"GPUS"}},
            {"allocate without CPUS", {"allocate", "x", "1"}, {"CPUS"}},
            {"GPUS not a number",
             {"allocate", "x", "abc", "1"},
             {"GPUS: 'abc' is not a whole number; allowed: 1..4"}},
            {"GPUS zero", {"allocate", "x", "0", "1"}, {"GPUS: 0 is out of range; allowed: 1..4"}},
            {"GPUS above the largest server", {"allocate", "x", "5", "1"}, {"GPUS", "1..4"}},
            {"GPUS huge", {"allocate", "x", "99999999999999999999", "1"}, {"GPUS", "out of range"}},
            {"GPUS negative", {"allocate", "x", "--", "-1", "1"}, {"GPUS"}},
            {"CPUS above the largest server",
             {"allocate", "x", "1", "33"},
             {"CPUS: 33 is out of range; allowed: 0..32"}},
            {"CPUS negative", {"allocate", "x", "1", "-1"}, {"CPUS"}},
            {"CPUS with a unit", {"allocate", "x", "1", "4c"}, {"CPUS: '4c'"}},
            {"task id with a slash", {"allocate", "a/b", "1", "1"}, {"task id 'a/b'"}},
            {"task id with a space", {"allocate", "a b", "1", "1"}, {"task id 'a b'"}},
            {"task id starting with a dash",
             {"allocate", "--", "-x", "1", "1"},
             {"must not start with '-'"}},
            {"task id too long", {"allocate", too_long, "1", "1"}, {"1..128"}},
            {"unknown --server",
             {"allocate", "x", "1", "1", "--server", "gpu-server-9"},
             {"--server", "'gpu-server-9'", "not in the config"}},
            {"--server without a value", {"allocate", "x", "1", "1", "--server"}, {"--server"}},
            {"allocate with an extra argument", {"allocate", "x", "1", "1", "extra"}, {"extra"}},
            {"status with an extra argument", {"status", "extra"}, {"extra"}},
            {"check-config with an extra argument", {"check-config", "extra"}, {"extra"}},
            {"release without a task id", {"release"}, {"TASK_ID"}},
            {"release with two task ids", {"release", "test_001", "b"}, {"not expected: b"}},
            {"release with both a task and a job",
             {"release", "test_001", "--job", "5"},
             {"either"}},
            {"release --job not a number", {"release", "--job", "abc"}, {"--job"}},
            {"release with a bad task id", {"release", "a/b"}, {"task id 'a/b'"}},
            {"--config without a value", {"status", "--config"}, {"--config"}},
            {"reset without --yes, stdin not a terminal", {"reset"}, {"--yes"}},
            {"reset without --yes, 'yes' piped in", {"reset"}, {"--yes"}, "yes\n"},
        },
        kBadInput);
}

// The word the user mistyped must be in the message, not only "a subcommand is required".
BOOST_AUTO_TEST_CASE(unknown_subcommand_is_2_and_named) {
    Site site;
    expect_failure(site.cli({"frobnicate"}), kBadInput, {"frobnicate"});
    expect_failure(site.cli({"stauts", "--json"}), kBadInput, {"stauts"});
}

// A control character in what the user typed must not break the one-line error.
BOOST_AUTO_TEST_CASE(task_id_with_a_line_break_gives_one_line) {
    Site site;
    expect_failure(site.cli({"allocate", "a\nb", "1", "1"}), kBadInput, {"task id"});
    expect_failure(site.cli({"release", "a\nb"}), kBadInput, {"task id"});
}

// "Nothing was changed" (exit 2) includes not creating a ledger that did not exist.
BOOST_AUTO_TEST_CASE(refused_reset_creates_nothing) {
    Site site;
    expect_failure(site.cli({"reset"}), kBadInput, {"--yes"});
    BOOST_TEST(!std::filesystem::exists(site.ledger()), "a refused reset created the ledger");
}

BOOST_AUTO_TEST_CASE(reset_with_yes_releases_everything) {
    Site site;
    site.ok({"allocate", "test_001", "2", "16"});
    site.ok({"allocate", "test_002", "1", "1"});
    BOOST_TEST(contains(site.ok({"reset", "--yes"}), "released 2 reservation(s)"));
    BOOST_TEST(site.ok({"status"}) == Site().ok({"status"}));
}

BOOST_AUTO_TEST_CASE(unavailable_is_3) {
    // test_001 holds 2 GPUs and 16 CPUs of gpu-server-0; filler leaves one GPU of gpu-server-1.
    run_failure_table(
        {
            {"duplicate task id", {"allocate", "test_001", "1", "1"}, {"test_001", "already"}},
            {"duplicate task id on another server",
             {"allocate", "test_001", "1", "1", "--server", "gpu-server-1"},
             {"test_001", "already"}},
            {"fits on no server", {"allocate", "big", "3", "1"}, {"no server has 3 GPUs"}},
            {"CPUs short where the GPUs are free",
             {"allocate", "big", "2", "17"},
             {"no server has 2 GPUs and 17 CPUs"}},
            {"named server full",
             {"allocate", "x", "2", "1", "--server", "gpu-server-1"},
             {"gpu-server-1", "1 of 4 GPUs"}},
            {"release of an unknown task", {"release", "nope"}, {"'nope'", "no reservation"}},
            {"release on the wrong server",
             {"release", "test_001", "--server", "gpu-server-1"},
             {"test_001", "gpu-server-1"}},
        },
        kUnavailable, {{"allocate", "filler", "3", "4", "--server", "gpu-server-1"}});
}

BOOST_AUTO_TEST_CASE(missing_or_invalid_config_is_4) {
    TempDir dir;
    const std::string missing = dir.file("absent.yaml");
    const std::string invalid = dir.file("invalid.yaml");
    write_file(invalid, "servers:\n  - name: a\n    gpus: four\n    cpus: 1\n");
    const std::string unknown_key = dir.file("typo.yaml");
    write_file(unknown_key, kFleetYaml + "requets:\n  gpus: {max: 2}\n");
    const std::vector<std::vector<std::string>> commands = {
        {"status"},       {"status", "--json"}, {"allocate", "x", "1", "1"},
        {"release", "x"}, {"reset", "--yes"},   {"check-config"},
    };
    for (const auto& command : commands) {
        BOOST_TEST_CONTEXT(command.front()) {
            std::vector<std::string> argv{GPUSLOTS_CLI, "--config", missing};
            argv.insert(argv.end(), command.begin(), command.end());
            expect_failure(run_process(argv), kUnusable, {missing, "etc/gpuslots.yaml"});

            argv[2] = invalid;
            expect_failure(run_process(argv), kUnusable, {invalid + ":3:11: servers[0].gpus"});

            argv[2] = unknown_key;
            expect_failure(run_process(argv), kUnusable,
                           {unknown_key + ":7:1: ", "unknown key 'requets'"});
        }
    }
    BOOST_TEST(!std::filesystem::exists(dir.file("state.db")));
}

// Input that once made the tool allocate until the machine ran out of memory: a stray comma
// (yaml-cpp's multi-document loader looped on it) and an endless file. Run under a memory limit and
// a deadline so that a regression fails here instead of taking the machine down.
BOOST_AUTO_TEST_CASE(hostile_config_files_are_4_in_one_line) {
    TempDir dir;
    const std::string comma = dir.file("comma.yaml");
    write_file(comma, ",");
    const std::string comma_key = dir.file("comma-key.yaml");
    write_file(comma_key, ",servers:");
    struct Case {
        std::string config;
        std::vector<std::string> says;
    };
    const std::vector<Case> cases = {
        {comma, {comma + ":1:1: not valid YAML", "','"}},
        {comma_key, {comma_key + ":1:1: not valid YAML", "','"}},
        {"/dev/zero", {"/dev/zero is a character device", "not a regular file"}},
    };
    for (const auto& c : cases) {
        for (const char* command : {"check-config", "status"}) {
            BOOST_TEST_CONTEXT(c.config << " " << command) {
                const auto bounded =
                    gpuslots::test::bounded_command({GPUSLOTS_CLI, "--config", c.config, command});
                expect_failure(run_process(bounded.argv, "", -1, bounded.env), kUnusable, c.says);
            }
        }
    }
    BOOST_TEST(!std::filesystem::exists(dir.file("state.db")));
}

BOOST_AUTO_TEST_CASE(config_from_the_environment) {
    Site site;
    // $GPUSLOTS_CONFIG names the file when there is no --config.
    const Run r =
        run_process({GPUSLOTS_CLI, "status"}, "", -1, {"GPUSLOTS_CONFIG=" + site.config()});
    BOOST_TEST(r.exit_code == kOk, r.err);
    BOOST_TEST(r.out == site.ok({"status"}));
    // ... and a missing one is reported by name.
    const std::string missing = site.dir().string() + "/elsewhere.yaml";
    expect_failure(run_process({GPUSLOTS_CLI, "status"}, "", -1, {"GPUSLOTS_CONFIG=" + missing}),
                   kUnusable, {missing});
    // --config wins over the environment.
    const Run both = run_process({GPUSLOTS_CLI, "--config", site.config(), "status"}, "", -1,
                                 {"GPUSLOTS_CONFIG=" + missing});
    BOOST_TEST(both.exit_code == kOk, both.err);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(damaged_ledger)

// A real ledger holding test_001, checkpointed so the main file holds everything.
std::string real_ledger_bytes() {
    Site source;
    source.ok({"allocate", "test_001", "2", "16"});
    sqlite_exec(source.ledger(), "PRAGMA wal_checkpoint(TRUNCATE);");
    const std::string bytes = read_file(source.ledger());
    BOOST_TEST_REQUIRE(bytes.size() >= 8192u);
    BOOST_TEST_REQUIRE(bytes.rfind("SQLite format 3", 0) == 0);
    return bytes;
}

struct Damage {
    std::string name;
    std::vector<std::string> message_parts;  // besides the ledger path
    // Writes the damaged ledger at `path`.
    std::function<void(const std::string& path)> make;
};

std::vector<Damage> damages(const std::string& real) {
    return {
        {"garbage bytes",
         {"damaged"},
         [](const std::string& path) {
             std::mt19937 random(42);
             std::string bytes(16384, '\0');
             for (auto& b : bytes)
                 b = static_cast<char>(random() & 0xff);
             write_file(path, bytes);
         }},
        {"text that is not a database",
         {"damaged"},
         [](const std::string& path) {
             std::string text;
             for (int i = 0; i < 200; ++i)
                 text += "this is not a ledger\n";
             write_file(path, text);
         }},
        {"real ledger truncated to half",
         {"damaged"},
         [real](const std::string& path) { write_file(path, real.substr(0, real.size() / 2)); }},
        {"real ledger truncated to 0 bytes",
         {"damaged", "empty"},
         [](const std::string& path) { write_file(path, ""); }},
        {"an SQLite database that is not a gpuslots ledger",
         {"not a gpuslots ledger"},
         [](const std::string& path) {
             sqlite_exec(path, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
         }},
        {"a gpuslots ledger from a newer schema",
         {"schema version 99", "upgrade"},
         [real](const std::string& path) {
             write_file(path, real);
             sqlite_exec(path, "PRAGMA user_version = 99;");
             sqlite_exec(path, "PRAGMA wal_checkpoint(TRUNCATE);");
         }},
    };
}

BOOST_AUTO_TEST_CASE(every_command_refuses_with_4_and_changes_nothing) {
    const std::string real = real_ledger_bytes();
    const std::vector<std::vector<std::string>> commands = {
        {"status"},
        {"status", "--json"},
        {"allocate", "x", "1", "1"},
        {"allocate", "x", "1", "1", "--server", "gpu-server-1"},
        {"release", "test_001"},
        {"reset", "--yes"},
    };
    for (const auto& damage : damages(real)) {
        BOOST_TEST_CONTEXT(damage.name) {
            Site site;
            damage.make(site.ledger());
            const std::string before = read_file(site.ledger());
            BOOST_TEST_REQUIRE(std::filesystem::exists(site.ledger()));
            auto parts = damage.message_parts;
            parts.push_back(site.ledger());
            for (const auto& command : commands) {
                BOOST_TEST_CONTEXT(command.front()
                                   << (command.size() > 1 ? " " + command[1] : "")) {
                    expect_failure(site.cli(command), kUnusable, parts);
                    BOOST_TEST((read_file(site.ledger()) == before), "the ledger file changed");
                }
            }
            // check-config reports the config as fine first, then the ledger on stderr.
            const Run check = site.cli({"check-config"});
            expect_failure(check, kUnusable, parts, /*stdout_may_have_output=*/true);
            BOOST_TEST((read_file(site.ledger()) == before), "check-config changed the ledger");
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(not_root)

BOOST_AUTO_TEST_CASE(nobody_reads_status_but_cannot_change_the_ledger,
                     *boost::unit_test::precondition(running_as_root)) {
    Site site;
    // nobody must reach the ledger through every directory above it (TempDir itself is 0755).
    for (auto dir = site.dir().parent_path(); !dir.empty(); dir = dir.parent_path()) {
        const bool others_may_enter =
            (std::filesystem::status(dir).permissions() & std::filesystem::perms::others_exec) !=
            std::filesystem::perms::none;
        BOOST_TEST_REQUIRE(others_may_enter,
                           dir << " is not traversable by other users; point TMPDIR elsewhere");
        if (dir == dir.root_path()) break;
    }
    site.ok({"allocate", "test_001", "2", "16"});
    const std::string as_root = site.ok({"status"});

    const Run status = site.cli({"status"}, kNobodyUid);
    BOOST_TEST(status.exit_code == kOk, status.err);
    BOOST_TEST(status.out == as_root);
    const Run json = site.cli({"status", "--json"}, kNobodyUid);
    BOOST_TEST(json.exit_code == kOk, json.err);
    BOOST_TEST(parse_json(json.out).get<int>("totals.gpus_free") == 6);
    const Run check = site.cli({"check-config"}, kNobodyUid);
    BOOST_TEST(check.exit_code == kOk, check.err);

    std::vector<std::string> files;
    for (const char* suffix : {"", "-wal", "-shm"}) {
        if (std::filesystem::exists(site.ledger() + suffix))
            files.push_back(site.ledger() + suffix);
    }
    std::vector<std::string> before;
    for (const auto& f : files)
        before.push_back(read_file(f));

    const std::vector<std::vector<std::string>> commands = {
        {"allocate", "x", "1", "1"},
        {"allocate", "x", "1", "1", "--server", "gpu-server-1"},
        {"release", "test_001"},
        {"reset", "--yes"},
    };
    for (const auto& command : commands) {
        BOOST_TEST_CONTEXT(command.front()) {
            expect_failure(site.cli(command, kNobodyUid), kDenied,
                           {"permission denied", site.ledger(), "gpuslots status"});
            for (std::size_t i = 0; i < files.size(); ++i) {
                BOOST_TEST((read_file(files[i]) == before[i]), files[i] << " changed");
            }
        }
    }
    BOOST_TEST(site.ok({"status"}) == as_root);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(reconcile)

// A Slurm job's reservation, as the plugin's prolog makes it (the tool cannot make one).
void reserve_for_job(const Site& site, const std::string& job, const std::string& server) {
    auto config = gpuslots::load_config(site.config());
    BOOST_TEST_REQUIRE(config.ok(), (config.ok() ? "" : config.error().message));
    auto ledger = gpuslots::open_ledger(*config, gpuslots::Ledger::Access::read_write);
    BOOST_TEST_REQUIRE(ledger.ok(), (ledger.ok() ? "" : ledger.error().message));
    const gpuslots::Request request{gpuslots::Origin::slurm, job, 2, 2, 0, {}};
    auto reserved = (*ledger)->reserve(server, request);
    BOOST_TEST_REQUIRE(reserved.ok(), (reserved.ok() ? "" : reserved.error().message));
}

Run without_slurm(const Site& site, const std::vector<std::string>& args) {
    std::vector<std::string> argv{GPUSLOTS_CLI, "--config", site.config(), "reconcile"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, "", -1, {"PATH=/nonexistent"});
}

BOOST_AUTO_TEST_CASE(without_slurm_jobs_in_the_ledger_slurm_is_not_needed) {
    Site site;
    site.ok({"allocate", "test_001", "2", "16"});
    const std::string before = site.snapshot();
    const Run r = without_slurm(site, {"--grace", "0"});
    BOOST_TEST(r.exit_code == kOk, r.err);
    BOOST_TEST(r.out ==
               "reconcile: 1 reservation(s) checked: 0 released, 0 held by running jobs, 0 "
               "kept for now, 0 old manual one(s) reported\n");
    // An old manual reservation is reported, never released.
    const Run old = without_slurm(site, {"--old", "0"});
    BOOST_TEST(old.exit_code == kOk, old.err);
    BOOST_TEST(contains(old.out, "old task 'test_001' on gpu-server-"), old.out);
    BOOST_TEST(contains(old.out, "release it with 'gpuslots release test_001'"), old.out);
    const Run json = without_slurm(site, {"--old", "0", "--json"});
    BOOST_TEST(json.exit_code == kOk, json.err);
    const auto tree = parse_json(json.out);
    BOOST_TEST(tree.get<bool>("slurm_asked") == false);
    BOOST_TEST(tree.get<int>("released") == 0);
    BOOST_TEST(tree.get_child("reservations").front().second.get<std::string>("action") ==
               "reported");
    BOOST_TEST(site.snapshot() == before);
}

BOOST_AUTO_TEST_CASE(when_slurmctld_cannot_be_asked_nothing_is_released) {
    Site site;
    reserve_for_job(site, "42", "gpu-server-0");
    const std::string before = read_file(site.ledger());
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"--grace", "0"}, {"--grace", "0", "--dry-run"}, {"--json"}}) {
        expect_failure(
            without_slurm(site, args), kUnusable,
            {"cannot ask slurmctld", "scontrol not found on PATH", "nothing was released"});
        BOOST_TEST((read_file(site.ledger()) == before), "the ledger file changed");
    }
    // --server that names no server holding a job: nothing to ask.
    const Run other = without_slurm(site, {"--server", "gpu-server-1"});
    BOOST_TEST(other.exit_code == kOk, other.err);
}

BOOST_AUTO_TEST_CASE(bad_options_are_2_and_change_nothing) {
    Site site;
    reserve_for_job(site, "42", "gpu-server-0");
    const std::string before = read_file(site.ledger());
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--grace", "abc"}, "--grace: 'abc' is not a whole number"},
        {{"--grace", "-1"}, "--grace"},
        {{"--grace", "99999999999"}, "--grace"},
        {{"--old", "1h"}, "--old: '1h' is not a whole number"},
        {{"--timeout", "0"}, "--timeout: 0 is out of range"},
        {{"--server", "n[1-"}, "--server: "},
        {{"--bogus"}, "--bogus"},
    };
    for (const auto& [args, phrase] : cases) {
        BOOST_TEST_CONTEXT(args.front() << " " << args.back()) {
            expect_failure(without_slurm(site, args), kBadInput, {phrase});
            BOOST_TEST((read_file(site.ledger()) == before), "the ledger file changed");
        }
    }
}

BOOST_AUTO_TEST_CASE(only_root_releases_others_may_look,
                     *boost::unit_test::precondition(running_as_root)) {
    Site site;
    site.ok({"allocate", "test_001", "1", "1"});
    const Run denied = site.cli({"reconcile"}, kNobodyUid);
    expect_failure(denied, kDenied, {"only root", "--dry-run"});
    const Run look = site.cli({"reconcile", "--dry-run"}, kNobodyUid);
    BOOST_TEST(look.exit_code == kOk, look.err);
    BOOST_TEST(contains(look.out, "reconcile: 1 reservation(s) checked"), look.out);
}

// Polls `done` every 100 ms for at most `seconds`.
bool poll_for(int seconds, const std::function<bool()>& done) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!done()) {
        if (std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return true;
}

BOOST_AUTO_TEST_CASE(a_booking_for_2s_is_released_by_reconcile_after_it_expired_not_before) {
    Site site;
    const std::string allocated = site.ok({"allocate", "brief", "1", "2", "--for", "2s"});
    BOOST_TEST(contains(allocated, "allocated brief on gpu-server-"), allocated);
    BOOST_TEST(contains(allocated, ", until 20"), allocated);
    const auto task = [&] {
        return parse_json(site.ok({"status", "--json"}))
            .get_child("servers")
            .front()
            .second.get_child("tasks")
            .front()
            .second;
    };
    BOOST_TEST_REQUIRE(!task().get<bool>("expired"));
    // Not yet expired: kept (no server here is scheduled by Slurm, so no Slurm is needed).
    const Run early = without_slurm(site, {});
    BOOST_TEST(early.exit_code == kOk, early.err);
    BOOST_TEST(contains(early.out, ": 0 released,"), early.out);
    BOOST_TEST(site.ok({"status", "--json"}).find("\"brief\"") != std::string::npos);

    BOOST_TEST_REQUIRE(
        poll_for(15, [&] { return contains(site.ok({"status"}), "brief(expired)"); }),
        "status never showed brief as expired");
    BOOST_TEST(task().get<bool>("expired"));
    const Run late = without_slurm(site, {});
    BOOST_TEST(late.exit_code == kOk, late.err);
    BOOST_TEST(contains(late.out, "released task 'brief' on gpu-server-"), late.out);
    BOOST_TEST(contains(late.out, "manual task 'brief' expired at "), late.out);
    BOOST_TEST(parse_json(site.ok({"status", "--json"})).get<int>("totals.tasks") == 0);
}

BOOST_AUTO_TEST_CASE(for_is_checked_and_the_config_gives_the_default) {
    Site site;
    site.ok({"allocate", "test_001", "2", "16"});
    const std::string before = site.snapshot();
    for (const char* bad : {"30", "2x", "0s", "-5m", "", "1h 30m", "400d"}) {
        BOOST_TEST_CONTEXT("--for '" << bad << "'") {
            expect_failure(site.cli({"allocate", "x", "1", "1", "--for", bad}), kBadInput,
                           {"--for: ", ", or never"});
            BOOST_TEST(site.snapshot() == before, "the ledger changed");
        }
    }
    Site defaults(kFleetYaml + "manual:\n  expire_after: 1h\n");
    const auto lapsing = parse_json(defaults.ok({"allocate", "a", "1", "1", "--json"}));
    const auto expires = lapsing.get_optional<std::string>("expires_at");
    BOOST_TEST_REQUIRE(expires.has_value());
    BOOST_TEST(expires->size() == 20U, *expires);  // 2026-12-03T14:00:00Z
    const auto lasting =
        parse_json(defaults.ok({"allocate", "b", "1", "1", "--for", "never", "--json"}));
    BOOST_TEST(!lasting.get_optional<std::string>("expires_at").has_value());
}

BOOST_AUTO_TEST_CASE(help_tells_what_it_does) {
    const Run r = run_process({GPUSLOTS_CLI, "reconcile", "--help"});
    BOOST_TEST(r.exit_code == kOk);
    for (const char* part : {"--dry-run", "--grace", "--server", "--json", "--old", "--timeout",
                             "manual ones only once expired", "Exit 4"}) {
        BOOST_TEST(contains(r.out, part), "reconcile --help lacks '" << part << "'");
    }
}

BOOST_AUTO_TEST_SUITE_END()
