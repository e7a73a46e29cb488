// Reading what Slurm's commands print (recorded from Slurm 22.05.8 on the test cluster), and
// running a command with a bounded time. The commands themselves run against a real
// slurmctld in the integration tests (check_config_slurm, manual_booking).
#define BOOST_TEST_MODULE slurm_controller
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>

#include "gpuslots/command.hpp"
#include "gpuslots/slurm_controller.hpp"

using namespace gpuslots;
using namespace std::chrono_literals;

namespace {

// `scontrol -o show node n2` on a node with Slurm's gres/gpu and the slot GRES.
const std::string kNode =
    "NodeName=n2 Arch=x86_64 CoresPerSocket=1  CPUAlloc=0 CPUEfctv=8 CPUTot=8 CPULoad=6.31 "
    "AvailableFeatures=(null) ActiveFeatures=(null) Gres=gpu:4,gpuslots:4,cpuslots:8 "
    "NodeAddr=127.0.0.1 NodeHostName=vm Port=20093 Version=22.05.8 OS=Linux 6.18.44-fc-v1045 "
    "#1 SMP PREEMPT_DYNAMIC @0  RealMemory=1000 AllocMem=0 FreeMem=19035 Sockets=8 Boards=1 "
    "State=IDLE ThreadsPerCore=1 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A Partitions=debug  "
    "BootTime=2026-12-02T17:08:22 SlurmdStartTime=2026-12-02T18:47:44 "
    "LastBusyTime=2026-12-02T18:47:44 CfgTRES=cpu=8,mem=1000M,billing=8 AllocTRES= "
    "CapWatts=n/a CurrentWatts=0 AveWatts=0 ExtSensorsJoules=n/s ExtSensorsWatts=0 "
    "ExtSensorsTemp=n/s\n";

// `scontrol -d show job 1` (multi-line), running with GPUs 0 and 1 of n2.
const std::string kJobDetail =
    "JobId=1 JobName=my job\n"
    "   UserId=root(0) GroupId=root(0) MCS_label=N/A\n"
    "   JobState=RUNNING Reason=None Dependency=(null)\n"
    "   NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:*\n"
    "   JOB_GRES=gpu:2,cpuslots:3\n"
    "     Nodes=n2 CPU_IDs=0 Mem=0 GRES=gpu:2(IDX:0-1),cpuslots(CNT:3)\n"
    "   TresPerNode=gres:gpu:2,gres:cpuslots:3\n";

}  // namespace

BOOST_AUTO_TEST_CASE(one_line_records_keep_values_with_spaces) {
    const auto records = parse_scontrol_records(kNode);
    BOOST_TEST_REQUIRE(records.size() == 1U);
    const auto& node = records[0];
    BOOST_TEST(field(node, "NodeName").value_or("") == "n2");
    BOOST_TEST(field(node, "Gres").value_or("") == "gpu:4,gpuslots:4,cpuslots:8");
    BOOST_TEST(field(node, "OS").value_or("") ==
               "Linux 6.18.44-fc-v1045 #1 SMP PREEMPT_DYNAMIC @0");
    BOOST_TEST(field(node, "State").value_or("") == "IDLE");
    BOOST_TEST(field(node, "AllocTRES").value_or("?") == "");
    BOOST_TEST(!field(node, "Nope").has_value());

    const auto jobs = parse_scontrol_records(
        "JobId=1 JobName=my job UserId=root(0) JobState=PENDING NodeList= NumNodes=1\n"
        "JobId=2 JobName=gpuslots-hold:t1 UserId=root(0) JobState=RUNNING NodeList=n1\n");
    BOOST_TEST_REQUIRE(jobs.size() == 2U);
    BOOST_TEST(field(jobs[0], "JobName").value_or("") == "my job");
    BOOST_TEST(field(jobs[1], "JobName").value_or("") == "gpuslots-hold:t1");
    BOOST_TEST(field(jobs[1], "NodeList").value_or("") == "n1");
}

BOOST_AUTO_TEST_CASE(gres_strings_as_counts_by_name) {
    struct Case {
        std::string text;
        std::map<std::string, long long> counts;
    };
    const std::vector<Case> cases = {
        {"gpu:4,gpuslots:4,cpuslots:8", {{"gpu", 4}, {"gpuslots", 4}, {"cpuslots", 8}}},
        {"gpu:a100:4(S:0-1),gpu:v100:2(S:1),gpuslots:6", {{"gpu", 6}, {"gpuslots", 6}}},
        {"gpu:a100:3(S:0,1)", {{"gpu", 3}}},
        {"(null)", {}},
        {"", {}},
        {"nic", {{"nic", 1}}},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.text) {
            auto got = parse_gres(c.text);
            BOOST_TEST_REQUIRE(got.ok());
            BOOST_TEST((*got == c.counts));
        }
    }
    auto bad = parse_gres("gpu:four");
    BOOST_TEST_REQUIRE(!bad.ok());
    BOOST_TEST(bad.error().message == "GRES 'gpu:four' is not NAME[:TYPE]:COUNT");
}

BOOST_AUTO_TEST_CASE(show_config_and_lists) {
    const auto config = parse_show_config(
        "Configuration data as of 2026-12-02T18:47:57\n"
        "GresTypes               = gpu,gpuslots,cpuslots\n"
        "JobSubmitPlugins        = lua\n"
        "PrologFlags             = Alloc,Contain\n"
        "TaskPlugin              = (null)\n"
        "SLURM_VERSION           = 22.05.8\n");
    BOOST_TEST(config.at("SLURM_VERSION") == "22.05.8");
    BOOST_TEST((split_list(config.at("GresTypes")) ==
                std::vector<std::string>{"gpu", "gpuslots", "cpuslots"}));
    BOOST_TEST(
        (split_list(config.at("PrologFlags")) == std::vector<std::string>{"Alloc", "Contain"}));
    BOOST_TEST(split_list(config.at("TaskPlugin")).empty());
}

BOOST_AUTO_TEST_CASE(the_gpus_slurm_gave_a_job) {
    BOOST_TEST((parse_gpu_indices(kJobDetail, "n2") == std::vector<int>{0, 1}));
    BOOST_TEST(parse_gpu_indices(kJobDetail, "n1").empty());
    BOOST_TEST((parse_gpu_indices("     Nodes=n[1-2] CPU_IDs=1 Mem=0 GRES=gpu:3(IDX:0,2-3)\n",
                                  "n2") == std::vector<int>{0, 2, 3}));
    BOOST_TEST(
        parse_gpu_indices("     Nodes=n2 CPU_IDs=0 Mem=0 GRES=gpuslots(CNT:2)\n", "n2").empty());
}

BOOST_AUTO_TEST_CASE(commands_run_bounded_and_report_what_went_wrong) {
    auto ok = run_command({"sh", "-c", "echo out; echo err >&2; exit 3"}, 10s);
    BOOST_TEST_REQUIRE(ok.ok());
    BOOST_TEST(ok->exit_code == 3);
    BOOST_TEST(ok->out == "out\n");
    BOOST_TEST(ok->err == "err\n");

    const auto start = std::chrono::steady_clock::now();
    auto slow = run_command({"sleep", "30"}, 300ms);
    BOOST_TEST_REQUIRE(!slow.ok());
    BOOST_TEST((slow.error().code == Errc::busy));
    BOOST_TEST((std::chrono::steady_clock::now() - start < 10s));

    auto missing = run_command({"gpuslots-no-such-command"}, 10s);
    BOOST_TEST_REQUIRE(!missing.ok());
    BOOST_TEST((missing.error().code == Errc::config));
    BOOST_TEST(missing.error().message.find("not found on PATH") != std::string::npos);

    // Output beyond the cap is dropped, not buffered without bound.
    auto big = run_command({"sh", "-c", "head -c 100000 /dev/zero"}, 10s, 1000);
    BOOST_TEST_REQUIRE(big.ok());
    BOOST_TEST(big->out.size() == 1000U);
}
