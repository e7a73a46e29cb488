// The config against slurmctld's view, table-driven: what check-config says for each way
// Slurm's side can be set up wrong, and that a right setup says nothing. (The lines
// `slurm-config` prints are tested against an expected file in tests/cli.)
#define BOOST_TEST_MODULE slurm_setup
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "gpuslots/slurm_setup.hpp"

using namespace gpuslots;

namespace {

Config config_of(const std::string& yaml) {
    auto c = parse_config(yaml + "state:\n  path: /tmp/none.db\n", "/etc/gpuslots/gpuslots.yaml");
    BOOST_TEST_REQUIRE(c.ok(), (c.ok() ? std::string() : c.error().message));
    return std::move(*c);
}

const std::string kSlots =
    "servers:\n  - {name: 'n[1-2]', gpus: 4, cpus: 8, slurm: slots}\n"
    "  - {name: ws, gpus: 1, cpus: 4}\n";

SlurmSettings good_settings() {
    return SlurmSettings{"22.05.8", {"gpuslots", "cpuslots"}, {"Alloc"}, {"lua"}};
}

std::vector<SlurmNodeInfo> good_nodes() {
    return {{"n1", "IDLE", {"debug"}, {{"gpuslots", 4}, {"cpuslots", 8}}},
            {"n2", "IDLE", {"debug"}, {{"gpuslots", 4}, {"cpuslots", 8}}}};
}

std::string all(const std::vector<SetupProblem>& problems) {
    std::string out;
    for (const auto& p : problems)
        out += (p.warning ? "W: " : "E: ") + p.message + "\n";
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_matching_setup_has_no_problems) {
    const auto p =
        compare_with_slurm(config_of(kSlots), good_settings(), good_nodes(), MappingState::active);
    BOOST_TEST(p.empty(), all(p));
}

BOOST_AUTO_TEST_CASE(each_mismatch_is_named_with_its_fix) {
    struct Case {
        const char* what;
        std::string yaml;
        SlurmSettings settings;
        std::vector<SlurmNodeInfo> nodes;
        std::optional<MappingState> mapping;
        bool warning;
        std::string phrase;
    };
    auto nodes_with = [](long long n2_gpuslots) {
        auto n = good_nodes();
        n[1].gres["gpuslots"] = n2_gpuslots;
        return n;
    };
    auto settings = [](std::vector<std::string> types, std::vector<std::string> flags,
                       std::vector<std::string> js) {
        return SlurmSettings{"22.05.8", std::move(types), std::move(flags), std::move(js)};
    };
    const std::vector<Case> cases = {
        {"GresTypes without cpuslots", kSlots, settings({"gpuslots"}, {"Alloc"}, {"lua"}),
         good_nodes(), MappingState::active, false,
         "slurm.conf: GresTypes has no cpuslots (it is gpuslots); add it"},
        {"GresTypes unset", kSlots, settings({}, {"Alloc"}, {"lua"}), good_nodes(),
         MappingState::active, false, "GresTypes has no gpuslots (it is not set)"},
        {"no job_submit plugin", kSlots, settings({"gpuslots", "cpuslots"}, {"Alloc"}, {}),
         good_nodes(), std::nullopt, false,
         "JobSubmitPlugins has no lua, so --gpu-slots does not reach Slurm's scheduler"},
        {"job_submit.lua without the mapping", kSlots, good_settings(), good_nodes(),
         MappingState::inactive, false, "job_submit.lua does not call gpuslots' mapping"},
        {"PrologFlags without Alloc", kSlots, settings({"gpuslots", "cpuslots"}, {}, {"lua"}),
         good_nodes(), MappingState::active, false,
         "PrologFlags has no Alloc, so a node's reservation is made only when a job's first "
         "step starts there, sized by that step"},
        {"a GRES count that differs", kSlots, good_settings(), nodes_with(2), MappingState::active,
         false,
         "node n2 offers gpuslots:2 in Slurm, but /etc/gpuslots/gpuslots.yaml says it has 4 "
         "GPUs; set Gres=gpuslots:4,cpuslots:8 on its NodeName line and Count=4 for "
         "Name=gpuslots in gres.conf"},
        {"a scheduled server Slurm does not know",
         kSlots,
         good_settings(),
         {good_nodes()[0]},
         MappingState::active,
         false,
         "server n2 is 'slurm: slots' in /etc/gpuslots/gpuslots.yaml, but slurmctld has no "
         "node n2"},
        {"a node counting slots the config does not schedule", kSlots, good_settings(),
         [] {
             auto n = good_nodes();
             n.push_back({"ws", "IDLE", {}, {{"gpuslots", 1}}});
             return n;
         }(),
         MappingState::active, false,
         "node ws offers the slot GRES in Slurm, but /etc/gpuslots/gpuslots.yaml says Slurm "
         "does not schedule it ('slurm: none')"},
        {"a node counting slots missing from the config", kSlots, good_settings(),
         [] {
             auto n = good_nodes();
             n.push_back({"n9", "IDLE", {}, {{"cpuslots", 8}}});
             return n;
         }(),
         MappingState::active, false, "node n9 offers the slot GRES in Slurm but is not in"},
        {"follow: the node's gres/gpu count",
         "servers:\n  - {name: g1, gpus: 8, cpus: 64, slurm: follow}\n",
         settings({"gpu", "cpuslots"}, {"Alloc"}, {"lua"}),
         {{"g1", "IDLE", {}, {{"gpu", 4}, {"cpuslots", 64}}}},
         MappingState::active,
         false,
         "node g1 offers gpu:4 in Slurm, but /etc/gpuslots/gpuslots.yaml says it has 8 GPUs"},
        {"follow: GresTypes without gpu",
         "servers:\n  - {name: g1, gpus: 8, cpus: 64, slurm: follow}\n",
         settings({"cpuslots"}, {"Alloc"}, {"lua"}),
         {{"g1", "IDLE", {}, {{"gpu", 8}, {"cpuslots", 64}}}},
         MappingState::active,
         false,
         "GresTypes has no gpu"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.what) {
            const auto problems =
                compare_with_slurm(config_of(c.yaml), c.settings, c.nodes, c.mapping);
            bool found = false;
            for (const auto& p : problems) {
                if (p.message.find(c.phrase) != std::string::npos) {
                    found = true;
                    BOOST_TEST(p.warning == c.warning);
                }
            }
            BOOST_TEST(found, all(problems));
        }
    }
}

BOOST_AUTO_TEST_CASE(servers_slurm_does_not_schedule_need_nothing_from_it) {
    const auto p = compare_with_slurm(config_of("servers:\n  - {name: ws, gpus: 1, cpus: 4}\n"),
                                      SlurmSettings{}, {}, std::nullopt);
    BOOST_TEST(p.empty(), all(p));
}

BOOST_AUTO_TEST_CASE(expected_gres_per_mode) {
    BOOST_TEST((expected_gres(Server{"a", 4, 8, SlurmMode::slots}) ==
                std::map<std::string, long long>{{"gpuslots", 4}, {"cpuslots", 8}}));
    BOOST_TEST((expected_gres(Server{"a", 4, 8, SlurmMode::follow}) ==
                std::map<std::string, long long>{{"gpu", 4}, {"cpuslots", 8}}));
    BOOST_TEST(expected_gres(Server{"a", 4, 8, SlurmMode::none}).empty());
}
