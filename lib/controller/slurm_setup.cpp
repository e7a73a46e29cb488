#include "gpuslots/slurm_setup.hpp"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "gpuslots/hostlist.hpp"

namespace gpuslots {
namespace {

// Consecutive servers (config order) that need the same lines, as one hostlist each.
struct Group {
    std::vector<std::string> names;
    const Server* first = nullptr;
};

std::vector<Group> groups_of(const Config& config) {
    std::vector<Group> out;
    for (const auto& s : config.fleet.servers()) {
        if (s.slurm == SlurmMode::none) continue;
        if (!out.empty() && out.back().first->slurm == s.slurm &&
            out.back().first->gpus == s.gpus && out.back().first->cpus == s.cpus) {
            out.back().names.push_back(s.name);
        } else {
            out.push_back(Group{{s.name}, &s});
        }
    }
    return out;
}

std::string gres_text(const std::map<std::string, long long>& gres) {
    // The GPU GRES first, as admins write them.
    std::string out;
    for (const char* name : {"gpu", "gpuslots", "cpuslots"}) {
        auto it = gres.find(name);
        if (it == gres.end()) continue;
        if (!out.empty()) out += ',';
        out += fmt::format("{}:{}", it->first, it->second);
    }
    return out;
}

bool contains(const std::vector<std::string>& list, std::string_view item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

std::set<std::string> gres_types_needed(const Config& config) {
    std::set<std::string> types;
    for (const auto& s : config.fleet.servers()) {
        for (const auto& [name, count] : expected_gres(s))
            types.insert(name);
    }
    return types;
}

}  // namespace

std::map<std::string, long long> expected_gres(const Server& server) {
    switch (server.slurm) {
        case SlurmMode::slots:
            return {{"gpuslots", server.gpus}, {"cpuslots", server.cpus}};
        case SlurmMode::follow:
            return {{"gpu", server.gpus}, {"cpuslots", server.cpus}};
        case SlurmMode::none:
            break;
    }
    return {};
}

Result<SlurmSetup> slurm_setup(const Config& config, const std::string& lua_dir) {
    const auto groups = groups_of(config);
    if (groups.empty()) {
        return make_error(Errc::bad_input,
                          "no server in {} says that Slurm schedules it; give the servers Slurm "
                          "schedules 'slurm: slots' (or 'slurm: follow') first",
                          config.source);
    }
    SlurmSetup setup;
    auto& conf = setup.slurm_conf;
    const auto types = gres_types_needed(config);
    std::string type_list;
    for (const char* t : {"gpu", "gpuslots", "cpuslots"}) {
        if (types.count(t) == 0) continue;
        type_list += fmt::format("{}{}", type_list.empty() ? "" : ",", t);
    }
    conf.push_back("# Slurm counts the slots as count-only GRES (keep any GresTypes you have):");
    conf.push_back("GresTypes=" + type_list);
    conf.push_back("# job_submit.lua (below) turns --gpu-slots / --cpu-slots into those GRES:");
    conf.push_back("JobSubmitPlugins=lua");
    conf.push_back("# The prolog reserves on every node when the job is allocated:");
    conf.push_back("PrologFlags=Alloc");
    conf.push_back("# Add Gres= to these nodes' NodeName lines (keep their other settings):");
    bool any_follow = false;
    bool any_slots = false;
    for (const auto& g : groups) {
        const std::string nodes = compress_hostlist(g.names);
        conf.push_back(
            fmt::format("NodeName={} Gres={}", nodes, gres_text(expected_gres(*g.first))));
        if (g.first->slurm == SlurmMode::follow) {
            any_follow = true;
            setup.gres_conf.push_back(fmt::format(
                "# NodeName={}: keep your own Name=gpu lines (File=/dev/nvidia...) for gres/gpu",
                nodes));
        } else {
            any_slots = true;
            setup.gres_conf.push_back(
                fmt::format("NodeName={} Name=gpuslots Count={}", nodes, g.first->gpus));
        }
        setup.gres_conf.push_back(
            fmt::format("NodeName={} Name=cpuslots Count={}", nodes, g.first->cpus));
    }

    auto& lua = setup.job_submit;
    lua.push_back("-- job_submit.lua, in the directory of slurm.conf (Slurm reads it from there)");
    if (lua_dir != "/usr/share/lua/5.1" && lua_dir != "/usr/local/share/lua/5.1") {
        lua.push_back(fmt::format("package.path = \"{}/?.lua;\" .. package.path", lua_dir));
    }
    lua.push_back("local gpuslots = require(\"gpuslots_job_submit\")");
    if (any_follow && !any_slots) {
        lua.push_back("gpuslots.settings.gpu_gres = \"gpu\"  -- Slurm's gres/gpu picks the GPUs");
    } else if (any_follow) {
        lua.push_back("-- Some servers follow gres/gpu: pass {gpu_gres = \"gpu\"} as the last");
        lua.push_back("-- argument of gpuslots.job_submit for the jobs that go there.");
    }
    lua.push_back("");
    lua.push_back("function slurm_job_submit(job_desc, part_list, submit_uid)");
    lua.push_back("    local rc = gpuslots.job_submit(job_desc, part_list, submit_uid)");
    lua.push_back("    if rc ~= slurm.SUCCESS then return rc end");
    lua.push_back("    return slurm.SUCCESS  -- (the site's own rules go here)");
    lua.push_back("end");
    lua.push_back("");
    lua.push_back("function slurm_job_modify(job_desc, job_rec, part_list, modify_uid)");
    lua.push_back("    return gpuslots.job_modify(job_desc, job_rec, part_list, modify_uid)");
    lua.push_back("end");
    lua.push_back("");
    lua.push_back("return slurm.SUCCESS");
    return setup;
}

std::vector<SetupProblem> compare_with_slurm(const Config& config, const SlurmSettings& settings,
                                             const std::vector<SlurmNodeInfo>& nodes,
                                             std::optional<MappingState> mapping) {
    std::vector<SetupProblem> problems;
    const auto error = [&](std::string m) { problems.push_back({false, std::move(m)}); };
    const auto restart = "then restart slurmctld and the slurmd daemons";

    bool scheduled = false;
    for (const auto& s : config.fleet.servers())
        scheduled = scheduled || s.slurm != SlurmMode::none;

    if (scheduled) {
        const std::string have = settings.gres_types.empty()
                                     ? std::string("it is not set")
                                     : fmt::format("it is {}", fmt::join(settings.gres_types, ","));
        for (const auto& type : gres_types_needed(config)) {
            if (contains(settings.gres_types, type)) continue;
            error(
                fmt::format("slurm.conf: GresTypes has no {} ({}); add it (see 'gpuslots "
                            "slurm-config'), {}",
                            type, have, restart));
        }
        if (!contains(settings.job_submit_plugins, "lua")) {
            error(
                "slurm.conf: JobSubmitPlugins has no lua, so --gpu-slots does not reach "
                "Slurm's scheduler; set JobSubmitPlugins=lua with the job_submit.lua of "
                "'gpuslots slurm-config' next to slurm.conf, then restart slurmctld");
        } else if (mapping && *mapping == MappingState::inactive) {
            error(
                "job_submit.lua does not call gpuslots' mapping (a test job that asks for "
                "--gres=cpuslots itself was not refused); add the lines of 'gpuslots "
                "slurm-config' to it, then 'scontrol reconfigure'");
        }
        if (!contains(settings.prolog_flags, "Alloc")) {
            // Without Alloc a node's prolog runs when the job's first step starts there, and
            // reserves what that step carries: the ledger could hold other slots than Slurm
            // counts (README "PrologFlags=Alloc is required").
            error(
                "slurm.conf: PrologFlags has no Alloc, so a node's reservation is made only "
                "when a job's first step starts there, sized by that step (the ledger can then "
                "disagree with what Slurm counts, and salloc without a step reserves nothing); "
                "set PrologFlags=Alloc, then restart slurmctld and the slurmd daemons");
        }
    }

    std::unordered_map<std::string, const SlurmNodeInfo*> by_name;
    for (const auto& n : nodes)
        by_name.emplace(n.name, &n);
    for (const auto& s : config.fleet.servers()) {
        if (s.slurm == SlurmMode::none) continue;
        auto it = by_name.find(s.name);
        const auto want = expected_gres(s);
        if (it == by_name.end()) {
            error(fmt::format(
                "server {} is 'slurm: {}' in {}, but slurmctld has no node {}; add "
                "it to slurm.conf with Gres={}, or set 'slurm: none' for it",
                s.name, slurm_mode_name(s.slurm), config.source, s.name, gres_text(want)));
            continue;
        }
        for (const auto& [name, count] : want) {
            auto have = it->second->gres.find(name);
            const long long got = have == it->second->gres.end() ? 0 : have->second;
            if (got == count) continue;
            const std::string what = name == "cpuslots" ? "CPUs" : "GPUs";
            error(fmt::format(
                "node {} offers {}:{} in Slurm, but {} says it has {} {}; set "
                "Gres={} on its NodeName line{}, {}",
                s.name, name, got, config.source, count, what, gres_text(want),
                name == "gpu" ? ""
                              : fmt::format(" and Count={} for Name={} in gres.conf", count, name),
                restart));
        }
    }
    // Nodes that count slots which the config does not let Slurm schedule.
    for (const auto& n : nodes) {
        const bool offers = n.gres.count("gpuslots") > 0 || n.gres.count("cpuslots") > 0;
        if (!offers) continue;
        const Server* s = config.fleet.server(n.name);
        if (s == nullptr) {
            error(
                fmt::format("node {} offers the slot GRES in Slurm but is not in {}; add it "
                            "there (with 'slurm: slots'), or remove its gpuslots/cpuslots GRES",
                            n.name, config.source));
        } else if (s->slurm == SlurmMode::none) {
            error(
                fmt::format("node {} offers the slot GRES in Slurm, but {} says Slurm does not "
                            "schedule it ('slurm: none'), so manual bookings there would be "
                            "invisible to Slurm; set 'slurm: slots' for it",
                            n.name, config.source));
        }
    }
    return problems;
}

}  // namespace gpuslots
