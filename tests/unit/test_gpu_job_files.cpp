// gpu_job_files() and sync_gpu_job_files(): the per-GPU files dcgm-exporter's job mapping and
// jobstats read, in a real directory.
#define BOOST_TEST_MODULE gpu_job_files
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "gpuslots/gpu_job_files.hpp"
#include "support/fixtures.hpp"

using namespace gpuslots;
using gpuslots::test::read_file;
using gpuslots::test::TempDir;
using gpuslots::test::write_file;

namespace {

Reservation slurm_job(std::string id, std::string server, std::vector<int> gpus,
                      std::uint32_t uid = 1000) {
    const int n = static_cast<int>(gpus.size());
    return Reservation{
        Origin::slurm, std::move(id), std::move(server), std::move(gpus), n, 1, uid, 1};
}

// Every entry of dir: name -> contents.
std::map<std::string, std::string> listing(const std::string& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        out[e.path().filename().string()] = read_file(e.path().string());
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(contents_per_format_only_this_servers_slurm_jobs) {
    Reservation manual = slurm_job("notebook", "n1", {3});
    manual.origin = Origin::manual;
    const std::vector<Reservation> held = {
        slurm_job("41", "n1", {0, 2}, 1001), slurm_job("42", "n1", {1}, 1002),
        slurm_job("43", "n2", {0}), manual, slurm_job("44", "n1", {}, 1003)};
    const std::map<int, std::string> dcgm = {{0, "41\n"}, {1, "42\n"}, {2, "41\n"}};
    const std::map<int, std::string> jobstats = {
        {0, "41 1001\n"}, {1, "42 1002\n"}, {2, "41 1001\n"}};
    BOOST_TEST((gpu_job_files(JobFileFormat::dcgm, "n1", held) == dcgm));
    BOOST_TEST((gpu_job_files(JobFileFormat::jobstats, "n1", held) == jobstats));
    BOOST_TEST(gpu_job_files(JobFileFormat::dcgm, "n3", held).empty());
}

BOOST_AUTO_TEST_CASE(sync_writes_rewrites_and_removes_only_index_files) {
    TempDir tmp;
    const std::string dir = tmp.file("map");  // missing: created
    BOOST_TEST_REQUIRE(sync_gpu_job_files(dir, {{0, "41\n"}, {3, "42\n"}}).ok());
    BOOST_TEST((listing(dir) == std::map<std::string, std::string>{{"0", "41\n"}, {"3", "42\n"}}));
    struct stat st {};
    BOOST_TEST_REQUIRE(::stat((dir + "/0").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0644u);
    BOOST_TEST(S_ISREG(st.st_mode));

    // Files that are not a plain GPU index are someone else's: left alone.
    write_file(dir + "/README", "mine");
    write_file(dir + "/01", "not an index");
    write_file(dir + "/0.1", "MIG, not written by gpuslots");
    const ino_t before = st.st_ino;
    BOOST_TEST_REQUIRE(sync_gpu_job_files(dir, {{0, "41\n"}, {1, "45\n"}}).ok());
    BOOST_TEST(
        (listing(dir) == std::map<std::string, std::string>{{"0", "41\n"},
                                                            {"1", "45\n"},
                                                            {"01", "not an index"},
                                                            {"0.1", "MIG, not written by gpuslots"},
                                                            {"README", "mine"}}));
    // An unchanged file is not rewritten.
    BOOST_TEST_REQUIRE(::stat((dir + "/0").c_str(), &st) == 0);
    BOOST_TEST(st.st_ino == before);

    BOOST_TEST_REQUIRE(sync_gpu_job_files(dir, {{0, "46\n"}}).ok());
    BOOST_TEST(read_file(dir + "/0") == "46\n");
    BOOST_TEST(!std::filesystem::exists(dir + "/1"));
    BOOST_TEST_REQUIRE(sync_gpu_job_files(dir, {}).ok());
    BOOST_TEST(!std::filesystem::exists(dir + "/0"));
    BOOST_TEST(listing(dir).size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_directory_that_cannot_be_made_is_an_error_naming_it) {
    TempDir tmp;
    write_file(tmp.file("file"), "x");
    const std::string dir = tmp.file("file") + "/map";
    auto r = sync_gpu_job_files(dir, {{0, "1\n"}});
    BOOST_TEST_REQUIRE(!r.ok());
    BOOST_TEST(r.error().message.find(dir) != std::string::npos, r.error().message);
}
