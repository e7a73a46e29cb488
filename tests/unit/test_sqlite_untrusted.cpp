// What users other than root can and cannot do to an SQLite ledger, tried as those users
// (nobody, uid 65534) against the admin tool and the library: the ledger's owner follows the
// release rule in reset too; nobody else can block, slow or grow the ledger (its files are
// theirs to read through the status snapshot only); a ledger whose directory or files others
// could write is refused. Needs root (to act as nobody); skipped otherwise.
#define BOOST_TEST_MODULE sqlite_untrusted
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>

#include "gpuslots/ledger.hpp"
#include "support/fixtures.hpp"

using namespace gpuslots;
using namespace std::chrono_literals;
using gpuslots::test::Run;
using gpuslots::test::TempDir;
namespace utf = boost::unit_test;

namespace {

constexpr int kNobody = 65534;

boost::test_tools::assertion_result as_root(utf::test_unit_id) {
    boost::test_tools::assertion_result ok(::geteuid() == 0 && ::getpwuid(kNobody) != nullptr);
    ok.message() << "SKIPPED: these cases act as user nobody (uid " << kNobody
                 << "), which needs root";
    return ok;
}

const char* kFleet = R"(servers:
  - name: gpu-server-[0-1]
    gpus: 4
    cpus: 32
)";

// A config and ledger in a temporary directory; `sub` is the ledger's directory below it.
struct Site {
    TempDir dir;
    std::string config_path = dir.file("gpuslots.yaml");
    std::string ledger;

    explicit Site(const std::string& state = "state:\n  path: ledger/state.db\n") {
        test::write_file(config_path, std::string(kFleet) + state);
        ledger = dir.file("ledger/state.db");
    }
    Run cli(const std::vector<std::string>& args, int as_uid = -1) const {
        std::vector<std::string> argv{GPUSLOTS_CLI, "--config", config_path};
        argv.insert(argv.end(), args.begin(), args.end());
        return test::run_process(argv, "", as_uid);
    }
    Config config() const {
        auto c = load_config(config_path);
        BOOST_TEST_REQUIRE(c.ok());
        return std::move(*c);
    }
};

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_ledger_owner_other_than_root_may_reset_only_its_own_tasks,
                     *utf::precondition(as_root)) {
    Site site;
    std::filesystem::create_directory(site.dir.file("ledger"));
    BOOST_TEST_REQUIRE(::chown(site.dir.file("ledger").c_str(), kNobody, kNobody) == 0);
    BOOST_TEST_REQUIRE(site.cli({"allocate", "mine", "1", "1"}, kNobody).exit_code == 0);
    BOOST_TEST_REQUIRE(site.cli({"allocate", "roots", "1", "1"}).exit_code == 0);
    const std::string before = site.cli({"status", "--json"}).out;

    // As release refuses root's task one by one (exit 5), reset refuses it among all.
    const Run one = site.cli({"release", "roots"}, kNobody);
    BOOST_TEST(one.exit_code == 5, one.err);
    const Run all = site.cli({"reset", "--yes"}, kNobody);
    BOOST_TEST(all.exit_code == 5, all.err);
    BOOST_TEST(contains(all.err, "permission denied: 1 of the 2 reservation(s) are not yours"),
               all.err);
    BOOST_TEST(contains(all.err, "task 'roots'"), all.err);
    BOOST_TEST(std::count(all.err.begin(), all.err.end(), '\n') == 1);
    BOOST_TEST(site.cli({"status", "--json"}).out == before);

    // Once only its own tasks are left, the owner may reset; root always may.
    BOOST_TEST_REQUIRE(site.cli({"release", "roots"}).exit_code == 0);
    const Run own = site.cli({"reset", "--yes"}, kNobody);
    BOOST_TEST(own.exit_code == 0, own.err);
    BOOST_TEST(contains(own.out, "released 1 reservation(s)"), own.out);
    BOOST_TEST_REQUIRE(site.cli({"allocate", "mine", "1", "1"}, kNobody).exit_code == 0);
    BOOST_TEST(site.cli({"reset", "--yes"}).exit_code == 0);
}
