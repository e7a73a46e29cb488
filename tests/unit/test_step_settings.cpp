// The step's fast path (gpuslots/step_settings.h): the settings the core writes and the C reader
// the entry object uses, checked against each other. The reader must say "load the core"
// whenever the settings could be wrong: a config whose bytes changed since they were written
// (whatever its times say), a job with a file of its own on the node, a file or directory that
// others could have written, a torn or foreign file; and the core writes none while a Slurm
// reservation on the node has no file in the directory.
#define BOOST_TEST_MODULE step_settings
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "gpuslots/job_record.hpp"
#include "gpuslots/ledger.hpp"
#include "gpuslots/slurm_job.hpp"
#include "gpuslots/step_settings.h"
#include "gpuslots/step_settings.hpp"
#include "gpuslots/storage.hpp"
#include "gpuslots/version.hpp"
#include "support/fixtures.hpp"

using namespace gpuslots;
namespace fs = std::filesystem;

namespace {

const char* kServers = "servers:\n  - name: n[1-2]\n    gpus: 2\n    cpus: 8\n";

struct Node {
    test::TempDir dir;
    std::string config = dir.file("gpuslots.yaml");
    std::string records = dir.file("records");
    std::string version{version_line()};

    explicit Node(const std::string& slurm = "") {
        test::write_file(config, std::string(kServers) + "state:\n  path: " + dir.file("state.db") +
                                     "\nslurm:\n  prolog_wait_seconds: 1\n" + slurm);
    }
    SlurmConfig slurm() const {
        auto c = load_config(config);
        BOOST_TEST_REQUIRE(c.ok());
        return c->slurm;
    }
    // As the core brings them up to date once it has read the config: whether the file is
    // there afterwards. `unrecorded`: the job of a reservation on the node without its file.
    bool publish(std::optional<std::string> unrecorded = std::nullopt,
                 std::optional<std::string>* line = nullptr) const {
        auto said = publish_step_settings(records, config, test::read_file(config), slurm(),
                                          [=] { return unrecorded; });
        if (line != nullptr) *line = said;
        return fs::exists(settings_file());
    }
    int read(gpuslots_step_settings& out, const std::string& path = "") const {
        return gpuslots_step_settings_read(records.c_str(), (path.empty() ? config : path).c_str(),
                                           version.c_str(), &out);
    }
    bool read() const {
        gpuslots_step_settings out{};
        return read(out) == 1;
    }
    std::string settings_file() const { return records + "/" + GPUSLOTS_STEP_SETTINGS_FILE; }
    // The plugstack arguments of a node that reads this config and keeps its records here.
    PluginArgs args() const {
        PluginArgs a;
        a.config = config;
        a.record_dir = records;
        return a;
    }
};

const PrologTiming kFast{std::chrono::milliseconds(5), std::chrono::milliseconds(20)};

SlurmJob job(const std::string& id, std::optional<std::string> gpus,
             std::optional<std::string> slurm_gpus = std::nullopt) {
    return SlurmJob{id, "n1", 1000, std::move(gpus), std::nullopt, std::move(slurm_gpus)};
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_reader_gets_what_the_core_wrote) {
    Node n(
        "  hide_gpus_without_reservation: false\n"
        "  visible_devices_env: [ROCR_VISIBLE_DEVICES, CUDA_VISIBLE_DEVICES]\n");
    BOOST_TEST_REQUIRE(n.publish());
    gpuslots_step_settings out{};
    BOOST_TEST_REQUIRE(n.read(out) == 1);
    BOOST_TEST(out.hide == 0);
    BOOST_TEST_REQUIRE(out.vars == 2);
    BOOST_TEST(std::string(out.var[0]) == "ROCR_VISIBLE_DEVICES");
    BOOST_TEST(std::string(out.var[1]) == "CUDA_VISIBLE_DEVICES");
    // The defaults: hide, under the four variables.
    Node d;
    BOOST_TEST_REQUIRE(d.publish());
    BOOST_TEST_REQUIRE(d.read(out) == 1);
    BOOST_TEST(out.hide == 1);
    BOOST_TEST(out.vars == 4);
    // Written once: the same settings again leave the file alone (a rewrite renames a new
    // file into place, another inode).
    struct stat first {};
    BOOST_TEST_REQUIRE(::stat(d.settings_file().c_str(), &first) == 0);
    BOOST_TEST(d.publish());
    struct stat again {};
    BOOST_TEST_REQUIRE(::stat(d.settings_file().c_str(), &again) == 0);
    BOOST_TEST(again.st_ino == first.st_ino);
    // Mode: the owner's alone to write.
    struct stat st {};
    BOOST_TEST_REQUIRE(::stat(d.settings_file().c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 022) == 0U);
    BOOST_TEST(st.st_uid == ::geteuid());
}

BOOST_AUTO_TEST_CASE(a_config_changed_since_is_never_taken_from_the_settings) {
    Node n;
    BOOST_TEST_REQUIRE(n.publish());
    BOOST_TEST_REQUIRE(n.read());
    // The same size, and its times put back: only the bytes tell (as they would on a network
    // filesystem that answers stat() from its cache, or after the clock stepped back).
    struct stat before {};
    BOOST_TEST_REQUIRE(::stat(n.config.c_str(), &before) == 0);
    std::string text = test::read_file(n.config);
    const auto at = text.find("gpus: 2");
    BOOST_TEST_REQUIRE(at != std::string::npos);
    text[at + 6] = '1';
    test::write_file(n.config, text);
    const timespec times[2] = {before.st_atim, before.st_mtim};
    BOOST_TEST_REQUIRE(::utimensat(AT_FDCWD, n.config.c_str(), times, 0) == 0);
    BOOST_TEST(!n.read());
    BOOST_TEST_REQUIRE(n.publish());
    BOOST_TEST(n.read());
    // Replaced by rename (as config management does), with other settings.
    test::write_file(n.config + ".new", text + "  hide_gpus_without_reservation: false\n");
    fs::rename(n.config + ".new", n.config);
    BOOST_TEST(!n.read());
    BOOST_TEST_REQUIRE(n.publish());
    gpuslots_step_settings out{};
    BOOST_TEST_REQUIRE(n.read(out) == 1);
    BOOST_TEST(out.hide == 0);
    // Grown by one byte, gone, not a file, too large: the core must look.
    const std::string saved = test::read_file(n.config);
    test::write_file(n.config, saved + "\n");
    BOOST_TEST(!n.read());
    fs::remove(n.config);
    BOOST_TEST(!n.read());
    fs::create_directory(n.config);
    BOOST_TEST(!n.read());
    fs::remove(n.config);
    test::write_file(n.config, std::string(GPUSLOTS_STEP_CONFIG_MAX_BYTES + 1, '#'));
    BOOST_TEST(!n.read());
    test::write_file(n.config, saved);
    BOOST_TEST(n.read());
}

BOOST_AUTO_TEST_CASE(nothing_is_kept_while_a_reservation_here_has_no_record) {
    Node n;
    BOOST_TEST_REQUIRE(n.publish());
    // Current settings too are removed once a reservation has no file here, and it is said.
    std::optional<std::string> line;
    BOOST_TEST(!n.publish(std::string("5"), &line));
    BOOST_TEST_REQUIRE(line.has_value());
    BOOST_TEST(line->find("job 5 holds slots here but has no job record") != std::string::npos,
               *line);
    // Nothing to remove: nothing said.
    BOOST_TEST(!n.publish(std::string("5"), &line));
    BOOST_TEST(!line.has_value());

    // The real check, through the ledger the hook has open: job 5 holds a GPU on n1 without a
    // record here (the record directory wiped, or record_dir= pointed elsewhere, while it runs).
    PluginArgs args = n.args();
    PluginConfig read;
    auto c = load_plugin_config(args, &read);
    BOOST_TEST_REQUIRE(c.ok());
    auto ledger = open_ledger(*c, Ledger::Access::read_write);
    BOOST_TEST_REQUIRE(ledger.ok());
    Request r;
    r.origin = Origin::slurm;
    r.task_id = "5";
    r.gpus = 1;
    r.cpus = 1;
    r.on_server = true;
    BOOST_TEST_REQUIRE((*ledger)->reserve("n1", r).ok());
    BOOST_TEST(!publish_step_settings(args, read, *c, **ledger, "n1"));  // none to remove
    BOOST_TEST(!fs::exists(n.settings_file()));
    // Another node's reservation is not this node's business.
    BOOST_TEST(!publish_step_settings(args, read, *c, **ledger, "n2"));
    BOOST_TEST(n.read());
    // A prolog on n1 removes them, and logs why; its own job gets its record first.
    const HookOutcome out = job_prolog(args, job("6", "1"), kFast);
    BOOST_TEST(!out.node_fault, out.message);
    BOOST_TEST(!fs::exists(n.settings_file()));
    bool said = false;
    for (const auto& w : out.warnings)
        said |= w.find("job 5 holds slots here") != std::string::npos;
    BOOST_TEST(said);
    // Once job 5 has its record, the next hook writes them.
    auto records = RecordDir::open(n.records);
    BOOST_TEST_REQUIRE(records.ok());
    BOOST_TEST_REQUIRE(
        records->write(JobRecord{"n1", "5", c->source, c->state, std::nullopt}).ok());
    BOOST_TEST(!publish_step_settings(args, read, *c, **ledger, "n1"));
    BOOST_TEST(n.read());
}

BOOST_AUTO_TEST_CASE(settings_for_another_config_or_build_are_not_used) {
    Node n;
    BOOST_TEST_REQUIRE(n.publish());
    gpuslots_step_settings out{};
    const std::string other = n.dir.file("other.yaml");
    fs::copy_file(n.config, other);
    BOOST_TEST(n.read(out, other) == 0);
    n.version = "gpuslots 0.0.0 (git 0000000, built against Slurm 0)";
    BOOST_TEST(n.read(out) == 0);
}

BOOST_AUTO_TEST_CASE(settings_others_could_have_written_are_not_used) {
    Node n;
    BOOST_TEST_REQUIRE(n.publish());
    BOOST_TEST_REQUIRE(n.read());
    BOOST_TEST_REQUIRE(::chmod(n.settings_file().c_str(), 0666) == 0);
    BOOST_TEST(!n.read());
    BOOST_TEST_REQUIRE(::chmod(n.settings_file().c_str(), 0644) == 0);
    BOOST_TEST(n.read());
    BOOST_TEST_REQUIRE(::chmod(n.records.c_str(), 0777) == 0);
    BOOST_TEST(!n.read());
    BOOST_TEST(gpuslots_step_job_has_files(n.records.c_str(), "n1", "7") == 1);
    BOOST_TEST_REQUIRE(::chmod(n.records.c_str(), 0700) == 0);
    BOOST_TEST(n.read());
    // A link in place of the file, or of the directory.
    const std::string real = n.dir.file("real-settings");
    fs::rename(n.settings_file(), real);
    fs::create_symlink(real, n.settings_file());
    BOOST_TEST(!n.read());
    fs::remove(n.settings_file());
    fs::rename(real, n.settings_file());
    const std::string link = n.dir.file("records-link");
    fs::create_directory_symlink(n.records, link);
    gpuslots_step_settings out{};
    BOOST_TEST(
        gpuslots_step_settings_read(link.c_str(), n.config.c_str(), n.version.c_str(), &out) == 0);
    BOOST_TEST(gpuslots_step_job_has_files(link.c_str(), "n1", "7") == 1);
}

BOOST_AUTO_TEST_CASE(a_torn_or_foreign_file_is_not_used) {
    Node n;
    BOOST_TEST_REQUIRE(n.publish());
    const std::string whole = test::read_file(n.settings_file());
    const auto put = [&](const std::string& text) {
        test::write_file(n.settings_file(), text);
        ::chmod(n.settings_file().c_str(), 0644);
    };
    for (std::size_t cut :
         {std::size_t{0}, std::size_t{10}, whole.size() / 2, whole.size() - 4, whole.size() - 1}) {
        put(whole.substr(0, cut));
        BOOST_TEST(!n.read(), "cut at " << cut);
    }
    put(whole + "env EXTRA\n");
    BOOST_TEST(!n.read());
    put(std::string(whole).replace(whole.find("hide 1"), 6, "hide 2"));
    BOOST_TEST(!n.read());
    put(std::string(whole).insert(whole.find("end\n"),
                                  std::string("env ") + std::string(200, 'A') + "\n"));
    BOOST_TEST(!n.read());
    put(std::string(5000, 'x'));
    BOOST_TEST(!n.read());
    put(std::string(whole).replace(0, 1, std::string(1, '\0')));
    BOOST_TEST(!n.read());
    put(whole);
    BOOST_TEST(n.read());
}

BOOST_AUTO_TEST_CASE(a_job_with_any_file_on_the_node_is_left_to_the_core) {
    Node n;
    auto records = RecordDir::open(n.records);
    BOOST_TEST_REQUIRE(records.ok());
    const auto has = [&](const char* node, const char* id) {
        return gpuslots_step_job_has_files(n.records.c_str(), node, id);
    };
    BOOST_TEST(has("n1", "7") == 0);
    auto loaded = load_config(n.config);
    BOOST_TEST_REQUIRE(loaded.ok());
    const Config& c = *loaded;
    BOOST_TEST_REQUIRE(records->write(JobRecord{"n1", "7", c.source, c.state, std::nullopt}).ok());
    BOOST_TEST(has("n1", "7") == 1);
    BOOST_TEST(has("n2", "7") == 0);
    BOOST_TEST(has("n1", "70") == 0);
    BOOST_TEST_REQUIRE(records->write_refusal("n1", "8", "no room").ok());
    BOOST_TEST(has("n1", "8") == 1);
    BOOST_TEST_REQUIRE(
        records
            ->write_pending(PendingRelease{JobRecord{"n1", "9", c.source, c.state, std::nullopt}, 1,
                                           "database down"})
            .ok());
    BOOST_TEST(has("n1", "9") == 1);
    // Names with bytes the record directory writes %XX: both sides name the same file.
    for (const char* node : {"gpu node/1", "n%41", "n\xc3\xa9", "a+b"}) {
        BOOST_TEST(has(node, "11") == 0, node);
        BOOST_TEST_REQUIRE(
            records->write(JobRecord{node, "11", c.source, c.state, std::nullopt}).ok());
        BOOST_TEST(has(node, "11") == 1, node);
        BOOST_TEST_REQUIRE(records->remove(node, "11").ok());
    }
    BOOST_TEST(has("n1", std::string(300, '9').c_str()) == 1);  // no name fits: the core decides
    // No directory: nothing there, but nothing to trust either.
    BOOST_TEST(gpuslots_step_job_has_files(n.dir.file("none").c_str(), "n1", "7") == 1);
}

BOOST_AUTO_TEST_CASE(every_prolog_that_reserves_or_refuses_leaves_the_job_a_file) {
    Node n;
    PluginArgs args = n.args();
    BOOST_TEST_REQUIRE(!job_prolog(args, job("1", "1"), kFast).node_fault);
    BOOST_TEST(gpuslots_step_job_has_files(n.records.c_str(), "n1", "1") == 1);
    // Refused for lack of room: its record is there, so its steps ask the core (which fails
    // their tasks with the reason).
    BOOST_TEST_REQUIRE(!job_prolog(args, job("2", "2"), kFast).node_fault);
    BOOST_TEST(gpuslots_step_job_has_files(n.records.c_str(), "n1", "2") == 1);
    // A job without options has none: its prolog never reaches the core.
    BOOST_TEST(gpuslots_step_job_has_files(n.records.c_str(), "n1", "3") == 0);

    // Where no record can be kept, no slots are given: the job is refused, the node stays up.
    Node broken;
    args.config = broken.config;
    args.record_dir = broken.dir.file("not-a-directory");
    test::write_file(*args.record_dir, "x");
    const HookOutcome out = job_prolog(args, job("4", "1"), kFast);
    BOOST_TEST(!out.node_fault, out.message);
    BOOST_TEST(out.message.find("job record cannot be kept") != std::string::npos, out.message);
    auto c = load_config(broken.config);
    BOOST_TEST_REQUIRE(c.ok());
    auto ledger = open_ledger(*c, Ledger::Access::read_only);
    BOOST_TEST_REQUIRE(ledger.ok());
    BOOST_TEST((*ledger)->reservations()->empty());
    // A native gres/gpu job there runs on Slurm's GPUs, unrecorded (its steps carry Slurm's
    // variables, so they never take the fast path).
    const HookOutcome native = job_prolog(args, job("5", std::nullopt, "0"), kFast);
    BOOST_TEST(!native.node_fault, native.message);
    BOOST_TEST(native.message.find("not recorded") != std::string::npos, native.message);
    BOOST_TEST((*ledger)->reservations()->empty());
}

BOOST_AUTO_TEST_CASE(a_prolog_publishes_the_settings_it_read) {
    Node n;
    PluginArgs args = n.args();
    BOOST_TEST_REQUIRE(!job_prolog(args, job("1", "1"), kFast).node_fault);
    BOOST_TEST(n.read());
    // An invalid config publishes nothing, and what was published no longer applies to it.
    test::write_file(n.config, "servers: [oops\n");
    BOOST_TEST(!job_prolog(args, job("2", "1"), kFast).node_fault);
    BOOST_TEST(!n.read());
}
