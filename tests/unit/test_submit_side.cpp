// The submit side's checks: hetjob components, against the option callbacks Slurm 22.05.8 was
// seen to make for each command line (recorded with a probe plugin on the test cluster; see
// lib/slurm/gpuslots/submit_side.hpp for what srun, salloc and sbatch do), and steps.
#define BOOST_TEST_MODULE submit_side
#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>
#include <vector>

#include "gpuslots/submit_side.hpp"

using namespace gpuslots;

namespace {

// One component as the plugin sees it: the callback's values, then the option's
// SLURM_SPANK_ variable at init_post_opt.
struct Component {
    std::vector<std::string> callbacks;
    std::optional<std::string> env_now;
};

struct Case {
    const char* command;  // what the user typed, for the test's messages
    std::optional<std::string> env_at_start;
    std::vector<Component> components;
    int refused_component;  // -1: accepted
    const char* phrase;     // in the refusal
};

const std::vector<Case> kCases = {
    {"srun --gpu-slots=1 a : --gpu-slots=3 b", {}, {{{"1"}, {}}, {{"3"}, {}}}, -1, ""},
    {"srun --gpu-slots=1 a : b",
     {},
     {{{"1"}, {}}, {{}, {}}},
     1,
     "hetjob component 1 gives no --gpu-slots, but Slurm would carry --gpu-slots=1"},
    {"srun a : --gpu-slots=3 b", {}, {{{}, {}}, {{"3"}, {}}}, -1, ""},
    {"srun --gpu-slots=1 a : --gpu-slots=2 b : c",
     {},
     {{{"1"}, {}}, {{"2"}, {}}, {{}, {}}},
     2,
     "component 2 gives no --gpu-slots, but Slurm would carry --gpu-slots=2"},
    // sbatch and salloc read the previous component's value back from their environment
    // before the component's command line.
    {"sbatch --gpu-slots=1 : --gpu-slots=3 job.sh", {}, {{{"1"}, {}}, {{"1", "3"}, "1"}}, -1, ""},
    {"sbatch --gpu-slots=1 : job.sh",
     {},
     {{{"1"}, {}}, {{"1"}, "1"}},
     1,
     "gives no --gpu-slots, but Slurm would carry --gpu-slots=1"},
    {"salloc --gpu-slots=1 : --gpu-slots=3", {}, {{{"1"}, {}}, {{"1", "3"}, "1"}}, -1, ""},
    {"salloc --gpu-slots=1 :", {}, {{{"1"}, {}}, {{"1"}, "1"}}, 1, "gives no --gpu-slots"},
    // ... and after the component's #SBATCH lines, which it therefore overrides.
    {"#SBATCH --gpu-slots=1 / hetjob / #SBATCH --gpu-slots=3",
     {},
     {{{"1"}, {}}, {{"3", "1"}, "1"}},
     1,
     "hetjob component 1 asks for --gpu-slots=3, but Slurm would give it --gpu-slots=1"},
    {"#SBATCH --gpu-slots=1 / hetjob / #SBATCH --gpu-slots=1",
     {},
     {{{"1"}, {}}, {{"1", "1"}, "1"}},
     -1,
     ""},
    {"#SBATCH (none) / hetjob / #SBATCH --gpu-slots=3", {}, {{{}, {}}, {{"3"}, {}}}, -1, ""},
    // The user's own SLURM_SPANK_ variable is read back in every component: it is what they
    // asked for, wherever a component says nothing else.
    {"SLURM_SPANK_..=2 srun a : b", "2", {{{"2"}, "2"}, {{"2"}, "2"}}, -1, ""},
    {"SLURM_SPANK_..=2 srun a : --gpu-slots=1 b", "2", {{{"2"}, "2"}, {{"2", "1"}, "2"}}, -1, ""},
    // Ambiguous (the variable said 2, component 0 overrode it with 1, which sbatch then
    // carries into component 1): refused rather than guessed.
    {"SLURM_SPANK_..=2 sbatch --gpu-slots=1 : job.sh",
     "2",
     {{{"2", "1"}, "2"}, {{"1"}, "1"}},
     1,
     "asks for --gpu-slots=2, but Slurm would give it --gpu-slots=1"},
    // One component: whatever it carries is what it asked for.
    {"sbatch --gpu-slots=1 job.sh with #SBATCH --gpu-slots=2", {}, {{{"2", "1"}, {}}}, -1, ""},
    {"srun true", {}, {{{}, {}}}, -1, ""},
};

}  // namespace

BOOST_AUTO_TEST_CASE(each_component_carries_what_it_asked_for_or_is_refused) {
    for (const Case& c : kCases) {
        BOOST_TEST_CONTEXT(c.command) {
            HetjobComponents check("gpu-slots", c.env_at_start);
            int refused = -1;
            std::string message;
            for (std::size_t i = 0; i < c.components.size() && refused < 0; ++i) {
                for (const auto& v : c.components[i].callbacks)
                    check.option_given(v);
                auto ok = check.end_component(c.components[i].env_now);
                if (!ok) {
                    refused = static_cast<int>(i);
                    message = ok.error().message;
                    BOOST_TEST((ok.error().code == Errc::bad_input));
                }
            }
            BOOST_TEST(refused == c.refused_component, message);
            BOOST_TEST(message.find(c.phrase) != std::string::npos, message);
        }
    }
}

BOOST_AUTO_TEST_CASE(the_refusal_says_what_to_do_instead) {
    HetjobComponents check("cpu-slots", std::nullopt);
    check.option_given("4");
    BOOST_TEST(check.end_component(std::nullopt).ok());
    check.option_given("8");
    check.option_given("4");
    auto refused = check.end_component(std::string("4"));
    BOOST_TEST_REQUIRE(!refused.ok());
    BOOST_TEST(refused.error().message.find(
                   "give the values per component on the command line (sbatch --cpu-slots=A "
                   "... : --cpu-slots=B ... job.sh), or the same value in every component") !=
                   std::string::npos,
               refused.error().message);
}

BOOST_AUTO_TEST_CASE(a_step_runs_on_its_jobs_slots) {
    using V = std::optional<std::string>;
    struct Case {
        V job, step;
        const char* refusal;  // nullptr: the step may start
    };
    const std::vector<Case> cases = {
        {V("2"), V("2"), nullptr},  // srun read the job's value back from the environment
        {V(), V(), nullptr},
        {V("2"), V(), nullptr},
        {V("2"), V("1"),
         "this step asks for --gpu-slots=1, but job 7 was submitted with --gpu-slots=2; a step "
         "runs on its job's slots: leave --gpu-slots off the step"},
        {V(), V("1"),
         "this step asks for --gpu-slots=1, but job 7 was submitted without "
         "--gpu-slots"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.job.value_or("-") << " " << c.step.value_or("-")) {
            auto r = check_step_option("gpu-slots", "7", c.job, c.step);
            if (c.refusal == nullptr) {
                BOOST_TEST(r.ok());
            } else {
                BOOST_TEST_REQUIRE(!r.ok());
                BOOST_TEST(r.error().message.find(c.refusal) != std::string::npos,
                           r.error().message);
            }
        }
    }
}
