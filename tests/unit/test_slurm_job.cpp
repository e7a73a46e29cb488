// The plugin's decisions, without Slurm: what job_prolog, job_epilog and the step hook do for a
// job, and which outcomes fail a hook (node fault) versus refuse only the job.
#define BOOST_TEST_MODULE slurm_job
#include <boost/test/unit_test.hpp>
#include <chrono>

#include "gpuslots/slurm_job.hpp"
#include "support/fixtures.hpp"

using namespace gpuslots;
using namespace std::chrono_literals;

namespace {

// Two 2-GPU nodes; the prolog waits at most 1 s so the waiting path stays quick.
struct Cluster {
    test::TempDir dir;
    Config config;
    PluginArgs args;
    PrologTiming fast{5ms, 20ms};

    explicit Cluster(const std::string& slurm_section = "slurm:\n  prolog_wait_seconds: 1\n") {
        config = test::make_config(dir,
                                   "servers:\n  - name: n[1-2]\n    gpus: 2\n    cpus: 8\n"
                                   "state:\n  path: state.db\n" +
                                       slurm_section);
        args.config = dir.file("gpuslots.yaml");
        args.record_dir = dir.file("records");
    }

    std::unique_ptr<Ledger> ledger() {
        auto l = open_ledger(config, Ledger::Access::read_write);
        BOOST_TEST_REQUIRE(l.ok());
        return std::move(*l);
    }
};

SlurmJob job(const std::string& id, const std::string& node, std::optional<std::string> gpus,
             std::optional<std::string> cpus = std::nullopt) {
    return SlurmJob{id, node, 1000, std::move(gpus), std::move(cpus)};
}

std::string env_value(const StepEnvironment& env, const std::string& name) {
    for (const auto& [k, v] : env.variables) {
        if (k == name) return v;
    }
    return "<unset>";
}

}  // namespace

BOOST_AUTO_TEST_CASE(prolog_reserves_and_the_step_sees_exactly_those_gpus) {
    Cluster c;
    const HookOutcome out = job_prolog(c.args, job("10", "n1", "2", "3"), c.fast);
    BOOST_TEST(!out.node_fault, out.message);
    BOOST_TEST(out.message.find("reserved GPUs [0,1] and 3 CPUs") != std::string::npos,
               out.message);

    const StepEnvironment env = step_environment(c.args, job("10", "n1", std::nullopt));
    BOOST_TEST(!env.error);
    BOOST_TEST(!env.refusal.has_value());
    for (const char* name : {"CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "ZE_AFFINITY_MASK",
                             "GPU_DEVICE_ORDINAL"}) {
        BOOST_TEST(env_value(env, name) == "0,1", name);
    }
    // The same job on the other node has nothing there: it sees no GPU.
    const StepEnvironment other = step_environment(c.args, job("10", "n2", std::nullopt));
    BOOST_TEST(env_value(other, "CUDA_VISIBLE_DEVICES") == "");

    auto held = c.ledger()->find(Origin::slurm, "10", "n1");
    BOOST_TEST_REQUIRE(held->has_value());
    BOOST_TEST((*held)->owner_uid == 1000U);
    BOOST_TEST((*held)->cpus == 3);
}

BOOST_AUTO_TEST_CASE(a_job_without_options_touches_nothing_and_sees_no_gpu) {
    Cluster c;
    const HookOutcome out = job_prolog(c.args, job("11", "n1", std::nullopt), c.fast);
    BOOST_TEST(!out.node_fault);
    BOOST_TEST(!std::filesystem::exists(c.config.state.sqlite.path));  // not even opened

    const StepEnvironment env = step_environment(c.args, job("11", "n1", std::nullopt));
    BOOST_TEST(!env.error);
    BOOST_TEST(env_value(env, "CUDA_VISIBLE_DEVICES") == "");  // set, and empty
    BOOST_TEST(!env.refusal.has_value());
}

BOOST_AUTO_TEST_CASE(hiding_gpus_can_be_switched_off) {
    Cluster c("slurm:\n  hide_gpus_without_reservation: false\n");
    const StepEnvironment env = step_environment(c.args, job("12", "n1", std::nullopt));
    BOOST_TEST(env.variables.empty());
}

BOOST_AUTO_TEST_CASE(only_the_listed_variables_are_set) {
    Cluster c("slurm:\n  visible_devices_env: [CUDA_VISIBLE_DEVICES]\n");
    BOOST_TEST(!job_prolog(c.args, job("13", "n2", "1"), c.fast).node_fault);
    const StepEnvironment env = step_environment(c.args, job("13", "n2", std::nullopt));
    BOOST_TEST_REQUIRE(env.variables.size() == 1U);
    BOOST_TEST(env.variables[0].first == "CUDA_VISIBLE_DEVICES");
    BOOST_TEST(env.variables[0].second == "0");
}

BOOST_AUTO_TEST_CASE(values_from_the_submit_side_are_validated_again_on_the_node) {
    // The submit side refuses these, but a crafted environment can skip that check.
    for (const auto& [gpus, cpus, phrase] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"abc", "1", "--gpu-slots: 'abc' is not a whole number; allowed: 1..2"},
             {"0", "1", "--gpu-slots: 0 is out of range; allowed: 1..2"},
             {"3", "1", "--gpu-slots: 3 is out of range"},
             {"1", "9", "--cpu-slots: 9 is out of range; allowed: 0..8"},
             {"1", "-1", "--cpu-slots: '-1' is not a whole number"}}) {
        BOOST_TEST_CONTEXT(gpus << " " << cpus) {
            Cluster c;
            const HookOutcome out = job_prolog(c.args, job("20", "n1", gpus, cpus), c.fast);
            BOOST_TEST(!out.node_fault, "a bad value is the job's problem, not the node's");
            auto ledger = c.ledger();
            BOOST_TEST(ledger->reservations()->empty());
            BOOST_TEST(ledger->refusal("n1", "20")->value_or("").find(phrase) != std::string::npos,
                       ledger->refusal("n1", "20")->value_or("(none)"));
            const StepEnvironment env = step_environment(c.args, job("20", "n1", std::nullopt));
            BOOST_TEST_REQUIRE(env.refusal.has_value());
            BOOST_TEST(env.refusal->find(phrase) != std::string::npos);
            BOOST_TEST(env_value(env, "CUDA_VISIBLE_DEVICES") == "");
        }
    }
}

BOOST_AUTO_TEST_CASE(cpu_slots_alone_reserve_cpus_and_no_gpu) {
    Cluster c;
    BOOST_TEST(!job_prolog(c.args, job("21", "n1", std::nullopt, "4"), c.fast).node_fault);
    auto held = c.ledger()->find(Origin::slurm, "21", "n1");
    BOOST_TEST_REQUIRE(held->has_value());
    BOOST_TEST((*held)->gpus.empty());
    BOOST_TEST((*held)->cpus == 4);
    const StepEnvironment env = step_environment(c.args, job("21", "n1", std::nullopt));
    BOOST_TEST(env_value(env, "CUDA_VISIBLE_DEVICES") == "");
}

BOOST_AUTO_TEST_CASE(a_node_missing_from_the_config_refuses_the_job_not_the_node) {
    Cluster c;
    const HookOutcome out = job_prolog(c.args, job("22", "n9", "1"), c.fast);
    BOOST_TEST(!out.node_fault);
    auto reason = c.ledger()->refusal("n9", "22");
    BOOST_TEST(reason->value_or("").find("node n9 is not in the gpuslots config") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(taken_slots_make_the_prolog_wait_then_refuse_without_a_node_fault) {
    Cluster c;
    BOOST_TEST_REQUIRE(c.ledger()->reserve("n1", Request{Origin::manual, "hog", 2, 0, 0}).ok());
    const auto start = std::chrono::steady_clock::now();
    const HookOutcome out = job_prolog(c.args, job("30", "n1", "1"), c.fast);
    const auto waited = std::chrono::steady_clock::now() - start;
    BOOST_TEST(!out.node_fault);
    BOOST_TEST((waited >= 900ms));  // prolog_wait_seconds: 1 (a bound, not a race)
    auto reason = c.ledger()->refusal("n1", "30");
    BOOST_TEST(reason->value_or("").find("still no room after waiting 1 s: 1 GPU and 0 CPUs do not "
                                         "fit on n1 now: 0 of 2 GPUs") != std::string::npos,
               reason->value_or("(none)"));
    // The epilog clears the refusal; the hand-made reservation stays.
    BOOST_TEST(!job_epilog(c.args, job("30", "n1", "1")).node_fault);
    BOOST_TEST(!c.ledger()->refusal("n1", "30")->has_value());
    BOOST_TEST(c.ledger()->reservations()->size() == 1U);
}

BOOST_AUTO_TEST_CASE(a_release_while_the_prolog_waits_lets_the_job_in) {
    Cluster c("slurm:\n  prolog_wait_seconds: 30\n");
    auto ledger = c.ledger();
    BOOST_TEST_REQUIRE(ledger->reserve("n1", Request{Origin::manual, "hog", 2, 0, 0}).ok());
    int waits = 0;
    PrologTiming timing = c.fast;
    // The hand-made reservation goes away once the prolog is waiting for it.
    timing.on_wait = [&] {
        if (++waits == 2)
            BOOST_TEST(ledger->release(Origin::manual, "hog", std::nullopt)->size() == 1U);
    };
    const auto start = std::chrono::steady_clock::now();
    const HookOutcome out = job_prolog(c.args, job("31", "n1", "2"), timing);
    BOOST_TEST(!out.node_fault);
    BOOST_TEST(waits == 2);
    BOOST_TEST(out.message.find("reserved GPUs [0,1]") != std::string::npos, out.message);
    BOOST_TEST((std::chrono::steady_clock::now() - start < 10s));
}

BOOST_AUTO_TEST_CASE(epilog_releases_exactly_this_nodes_share_and_twice_is_fine) {
    Cluster c;
    BOOST_TEST(!job_prolog(c.args, job("40", "n1", "1", "2"), c.fast).node_fault);
    BOOST_TEST(!job_prolog(c.args, job("40", "n2", "1", "2"), c.fast).node_fault);
    HookOutcome first = job_epilog(c.args, job("40", "n1", "1", "2"));
    BOOST_TEST(!first.node_fault);
    BOOST_TEST(first.message.find("released GPUs [0] and 2 CPUs") != std::string::npos,
               first.message);
    HookOutcome second = job_epilog(c.args, job("40", "n1", "1", "2"));
    BOOST_TEST(!second.node_fault);
    BOOST_TEST(second.message.find("nothing to release") != std::string::npos);
    // A job that never reserved (no options) is not an error either.
    BOOST_TEST(!job_epilog(c.args, job("41", "n1", std::nullopt)).node_fault);
    auto left = c.ledger()->reservations();
    BOOST_TEST_REQUIRE(left->size() == 1U);
    BOOST_TEST(left->front().server == "n2");
}

// A config that cannot be read is not a node fault (a push to every node must not drain them
// all): the prolog reserves nothing, the job's tasks fail with the config error (the step
// cannot read it either), the epilog succeeds. Only a ledger that cannot be used is one.
BOOST_AUTO_TEST_CASE(only_an_unusable_ledger_is_a_node_fault_not_a_config) {
    Cluster c;
    test::write_file(c.dir.file("gpuslots.yaml"), "servers: [oops\n");
    const HookOutcome prolog = job_prolog(c.args, job("50", "n1", "1"), c.fast);
    BOOST_TEST(!prolog.node_fault);
    BOOST_TEST(prolog.loud);
    BOOST_TEST(prolog.message.find("reserved nothing: ") != std::string::npos, prolog.message);
    BOOST_TEST(prolog.message.find("gpuslots.yaml:") != std::string::npos, prolog.message);
    const HookOutcome epilog = job_epilog(c.args, job("50", "n1", "1"));
    BOOST_TEST(!epilog.node_fault);
    BOOST_TEST(epilog.loud);
    BOOST_TEST(epilog.message.find("gpuslots reconcile --server n1") != std::string::npos,
               epilog.message);
    const StepEnvironment env = step_environment(c.args, job("50", "n1", std::nullopt));
    BOOST_TEST(env.error);
    // Fail closed without a config too: the default variables, set and empty.
    for (const char* name : {"CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "ZE_AFFINITY_MASK",
                             "GPU_DEVICE_ORDINAL"}) {
        BOOST_TEST(env_value(env, name) == "", name);
    }

    Cluster damaged;
    test::write_file(damaged.config.state.sqlite.path,
                     "this is not a ledger, but long enough to "
                     "look like a file someone wrote by mistake");
    BOOST_TEST(job_prolog(damaged.args, job("51", "n1", "1"), damaged.fast).node_fault);
    BOOST_TEST(job_epilog(damaged.args, job("51", "n1", "1")).node_fault);
    const StepEnvironment hidden = step_environment(damaged.args, job("51", "n1", std::nullopt));
    BOOST_TEST(hidden.error);
    // Fail closed: even then, the job is handed no GPU.
    BOOST_TEST(env_value(hidden, "CUDA_VISIBLE_DEVICES") == "");
}

BOOST_AUTO_TEST_CASE(submit_side_check_names_the_option_and_the_range) {
    Cluster c;
    BOOST_TEST(check_option_value(c.args, kGpuOption, "2").ok());
    auto bad = check_option_value(c.args, kGpuOption, "5");
    BOOST_TEST_REQUIRE(!bad.ok());
    BOOST_TEST(bad.error().message == "--gpu-slots: 5 is out of range; allowed: 1..2");
    auto cpu = check_option_value(c.args, kCpuOption, "x");
    BOOST_TEST_REQUIRE(!cpu.ok());
    BOOST_TEST(cpu.error().message == "--cpu-slots: 'x' is not a whole number; allowed: 0..8");

    PluginArgs missing;
    missing.config = c.dir.file("nope.yaml");
    auto no_config = check_option_value(missing, kGpuOption, "1");
    BOOST_TEST_REQUIRE(!no_config.ok());
    BOOST_TEST(no_config.error().message.find("cannot check --gpu-slots: cannot read config") ==
               0U);
}

BOOST_AUTO_TEST_CASE(a_step_that_asks_for_other_slots_than_its_job_holds_is_refused) {
    Cluster c;
    BOOST_TEST_REQUIRE(!job_prolog(c.args, job("60", "n1", "2", "1"), c.fast).node_fault);
    // init_post_opt cannot read the step's options: it finds the job's reservation...
    const StepEnvironment env = step_environment(c.args, job("60", "n1", std::nullopt));
    BOOST_TEST_REQUIRE(env.held.has_value());
    BOOST_TEST(env_value(env, "CUDA_VISIBLE_DEVICES") == "0,1");
    // ... and each task compares the step's own values with it.
    struct Case {
        std::optional<std::string> gpus, cpus;
        const char* refusal;  // nullptr: the step runs on the job's GPUs
    };
    const std::vector<Case> cases = {
        {std::nullopt, std::nullopt, nullptr},
        {"2", std::nullopt, nullptr},
        {"2", "1", nullptr},
        {std::nullopt, "1", nullptr},
        {"1", std::nullopt,
         "this step asks for --gpu-slots=1, but job 60 holds 2 GPUs and 1 CPU on n1; a step "
         "runs on its job's slots"},
        {"2", "3", "this step asks for --gpu-slots=2 --cpu-slots=3, but job 60 holds"},
        {"abc", std::nullopt, "--gpu-slots: 'abc' is not a whole number"},
    };
    for (const auto& k : cases) {
        BOOST_TEST_CONTEXT(k.gpus.value_or("-") << " " << k.cpus.value_or("-")) {
            auto refusal = step_refusal(c.args, job("60", "n1", k.gpus, k.cpus), env.held);
            if (k.refusal == nullptr) {
                BOOST_TEST(!refusal.has_value(), refusal.value_or(""));
            } else {
                BOOST_TEST_REQUIRE(refusal.has_value());
                BOOST_TEST(refusal->find(k.refusal) != std::string::npos, *refusal);
            }
        }
    }
    // A job that holds nothing here: a step cannot reserve slots of its own.
    const StepEnvironment none = step_environment(c.args, job("61", "n1", std::nullopt));
    BOOST_TEST(!none.held.has_value());
    auto refusal = step_refusal(c.args, job("61", "n1", "1"), none.held);
    BOOST_TEST_REQUIRE(refusal.has_value());
    BOOST_TEST(refusal->find("job 61 holds no slots on n1") != std::string::npos, *refusal);
    // The job's reservation is untouched by a refused step.
    BOOST_TEST((*c.ledger()->find(Origin::slurm, "60", "n1"))->gpus == std::vector<int>({0, 1}));
}

namespace {

// A job on a node where Slurm's own gres/gpu gave it GPUs.
SlurmJob native_job(const std::string& id, const std::string& node, std::string slurm_gpus,
                    std::optional<std::string> gpus = std::nullopt,
                    std::optional<std::string> cpus = std::nullopt) {
    SlurmJob j = job(id, node, std::move(gpus), std::move(cpus));
    j.slurm_gpus = std::move(slurm_gpus);
    return j;
}

}  // namespace

BOOST_AUTO_TEST_CASE(gpus_slurms_gres_gpu_chose_are_recorded_exactly_and_left_to_slurm) {
    Cluster c;
    // A native --gres=gpu:1 job that Slurm gave GPU 1: recorded as exactly that.
    HookOutcome out = job_prolog(c.args, native_job("70", "n1", "1"), c.fast);
    BOOST_TEST(!out.node_fault, out.message);
    BOOST_TEST(out.message.find("recorded Slurm's GPUs [1]") != std::string::npos, out.message);
    BOOST_TEST((*c.ledger()->find(Origin::slurm, "70", "n1"))->gpus == std::vector<int>({1}));
    // Its step keeps Slurm's variables: gpuslots sets none.
    StepEnvironment env = step_environment(c.args, native_job("70", "n1", "1"));
    BOOST_TEST(env.variables.empty());
    BOOST_TEST(env.message.find("Slurm's gres/gpu sets the variables") != std::string::npos,
               env.message);
    // A --gpu-slots job Slurm's gres/gpu gave GPU 0 (follow mode) takes exactly that one.
    out = job_prolog(c.args, native_job("71", "n1", "0", "1", "2"), c.fast);
    BOOST_TEST(
        out.message.find("reserved GPUs [0] (Slurm's gres/gpu) and 2 CPUs") != std::string::npos,
        out.message);
    // A step whose variables do not name the job's GPUs gets gpuslots' own (fail closed).
    env = step_environment(c.args, native_job("71", "n1", "1"));
    BOOST_TEST(env_value(env, "CUDA_VISIBLE_DEVICES") == "0");
}

BOOST_AUTO_TEST_CASE(slurms_choice_that_cannot_be_recorded_never_refuses_a_native_job) {
    Cluster c("slurm:\n  prolog_wait_seconds: 30\n");
    BOOST_TEST_REQUIRE(
        c.ledger()->reserve("n1", Request{Origin::manual, "by-hand", 1, 0, 0, {0}}).ok());
    const auto start = std::chrono::steady_clock::now();
    // GPU 0 is booked by hand, Slurm gave it to a native job anyway: the job runs, at once.
    HookOutcome out = job_prolog(c.args, native_job("80", "n1", "0"), c.fast);
    BOOST_TEST(!out.node_fault);
    BOOST_TEST((std::chrono::steady_clock::now() - start < 5s), "a native job was kept waiting");
    BOOST_TEST(out.message.find("not recorded, the job runs on Slurm's GPUs") != std::string::npos,
               out.message);
    BOOST_TEST(out.message.find("by-hand") != std::string::npos, out.message);
    BOOST_TEST(!c.ledger()->refusal("n1", "80")->has_value());
    // Its step keeps Slurm's variables.
    BOOST_TEST(step_environment(c.args, native_job("80", "n1", "0")).variables.empty());
    // Indices the config cannot hold, and a node outside the config: not recorded either.
    for (const auto& [node, gpus] : std::vector<std::pair<std::string, std::string>>{
             {"n2", "5"}, {"n2", "0,0"}, {"n2", "x"}, {"n9", "0"}}) {
        out = job_prolog(c.args, native_job("81", node, gpus), c.fast);
        BOOST_TEST(!out.node_fault);
        BOOST_TEST(out.message.find("not recorded") != std::string::npos, out.message);
    }
    BOOST_TEST(!c.ledger()->find(Origin::slurm, "81", "n2")->has_value());
}

BOOST_AUTO_TEST_CASE(a_gpuslots_job_and_slurms_gres_gpu_must_agree) {
    Cluster c;
    // --gpu-slots=2 but Slurm gave 1 GPU: refused, not guessed.
    HookOutcome out = job_prolog(c.args, native_job("90", "n1", "1", "2"), c.fast);
    BOOST_TEST(!out.node_fault);
    auto reason = c.ledger()->refusal("n1", "90");
    BOOST_TEST(reason->value_or("").find("the job asks for --gpu-slots=2 but Slurm's gres/gpu gave "
                                         "it 1 GPU(s) [1] on n1") != std::string::npos,
               reason->value_or("(none)"));
    // Slurm's GPU taken in the ledger: a job that asked for gpuslots waits, then is refused.
    Cluster d("slurm:\n  prolog_wait_seconds: 1\n");
    BOOST_TEST_REQUIRE(
        d.ledger()->reserve("n1", Request{Origin::manual, "by-hand", 1, 0, 0, {1}}).ok());
    out = job_prolog(d.args, native_job("91", "n1", "1", "1"), d.fast);
    BOOST_TEST(!out.node_fault);
    BOOST_TEST(d.ledger()->refusal("n1", "91")->value_or("").find("still no room") !=
               std::string::npos);
}

// slurm.dcgm_job_mapping_dir / slurm.jobstats_dir: the prolog writes a file per reserved GPU of
// this node, the epilog takes them away again; the other node's jobs do not appear.
BOOST_AUTO_TEST_CASE(prolog_and_epilog_keep_the_gpu_job_files_in_step) {
    test::TempDir files;
    const std::string dcgm = files.file("dcgm");
    const std::string stats = files.file("gpustat");
    Cluster c("slurm:\n  prolog_wait_seconds: 1\n  dcgm_job_mapping_dir: " + dcgm +
              "\n  jobstats_dir: " + stats + "\n");
    BOOST_TEST_REQUIRE(!job_prolog(c.args, job("20", "n1", "1"), c.fast).node_fault);
    BOOST_TEST_REQUIRE(!job_prolog(c.args, job("21", "n2", "2"), c.fast).node_fault);
    const HookOutcome out = job_prolog(c.args, job("22", "n1", "1"), c.fast);
    BOOST_TEST_REQUIRE(!out.node_fault, out.message);
    BOOST_TEST(out.warnings.empty());
    BOOST_TEST(test::read_file(dcgm + "/0") == "20\n");
    BOOST_TEST(test::read_file(dcgm + "/1") == "22\n");
    BOOST_TEST(test::read_file(stats + "/1") == "22 1000\n");

    BOOST_TEST_REQUIRE(!job_epilog(c.args, job("20", "n1", std::nullopt)).node_fault);
    BOOST_TEST(!std::filesystem::exists(dcgm + "/0"));
    BOOST_TEST(!std::filesystem::exists(stats + "/0"));
    BOOST_TEST(test::read_file(dcgm + "/1") == "22\n");
    // The directories are n1's here, so the last epilog on n2 would empty them: on a real
    // cluster each node has its own.
    BOOST_TEST_REQUIRE(!job_epilog(c.args, job("22", "n1", std::nullopt)).node_fault);
    BOOST_TEST(std::filesystem::is_empty(dcgm));
    BOOST_TEST(std::filesystem::is_empty(stats));
}

// Monitoring never fails a job or drains a node: a directory that cannot be written is only
// a warning in the hook's log.
BOOST_AUTO_TEST_CASE(gpu_job_files_that_cannot_be_written_are_only_logged) {
    test::TempDir files;
    test::write_file(files.file("not-a-dir"), "x");
    const std::string dcgm = files.file("not-a-dir") + "/dcgm";
    Cluster c("slurm:\n  prolog_wait_seconds: 1\n  dcgm_job_mapping_dir: " + dcgm + "\n");
    const auto warned = [](const HookOutcome& o, const std::string& part) {
        for (const auto& w : o.warnings) {
            if (w.find("GPU job files not updated") != std::string::npos &&
                w.find(part) != std::string::npos)
                return true;
        }
        return false;
    };
    const HookOutcome out = job_prolog(c.args, job("30", "n1", "1"), c.fast);
    BOOST_TEST(!out.node_fault, out.message);
    BOOST_TEST(out.message.find("reserved GPUs [0]") != std::string::npos, out.message);
    BOOST_TEST(warned(out, dcgm));
    const HookOutcome end = job_epilog(c.args, job("30", "n1", std::nullopt));
    BOOST_TEST(!end.node_fault, end.message);
    BOOST_TEST(end.message.find("released GPUs [0]") != std::string::npos, end.message);
    BOOST_TEST(warned(end, dcgm));
}
