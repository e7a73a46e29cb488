#include "gpuslots/slurm_controller.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "gpuslots/command.hpp"
#include "gpuslots/hostlist.hpp"

namespace gpuslots {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
        s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
        s.remove_suffix(1);
    return s;
}

bool is_null(std::string_view s) {
    s = trim(s);
    return s.empty() || s == "(null)" || s == "N/A" || s == "none";
}

// "Key=..." starts a field: a word of letters, digits and _ : / before its first '='.
std::optional<std::size_t> key_length(std::string_view word) {
    const std::size_t eq = word.find('=');
    if (eq == 0 || eq == std::string_view::npos) return std::nullopt;
    if (std::isalpha(static_cast<unsigned char>(word[0])) == 0) return std::nullopt;
    for (std::size_t i = 0; i < eq; ++i) {
        const char c = word[i];
        if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_' && c != ':' && c != '/')
            return std::nullopt;
    }
    return eq;
}

// Splits at commas that are not inside parentheses: "gpu:3(IDX:0-1,3),x:1".
std::vector<std::string_view> split_top_level(std::string_view text) {
    std::vector<std::string_view> out;
    int depth = 0;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= text.size(); ++i) {
        if (i == text.size() || (text[i] == ',' && depth == 0)) {
            if (i > start) out.push_back(text.substr(start, i - start));
            start = i + 1;
        } else if (text[i] == '(') {
            ++depth;
        } else if (text[i] == ')' && depth > 0) {
            --depth;
        }
    }
    return out;
}

std::optional<long long> to_number(std::string_view s) {
    long long v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

// The first line of a command's complaint, for a message ("salloc: error: X" -> "X").
std::string complaint(const CommandOutput& out) {
    std::string_view text = out.err.empty() ? std::string_view(out.out) : std::string_view(out.err);
    std::string_view best;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = trim(text.substr(pos, end - pos));
        if (!line.empty() && (best.empty() || line.find("error") != std::string_view::npos)) {
            best = line;
            if (line.find("error") != std::string_view::npos) break;
        }
        pos = end + 1;
    }
    if (best.empty()) return fmt::format("exit status {}", out.exit_code);
    std::string s(best);
    for (const char* prefix : {"error: ", "fatal: "}) {
        if (auto at = s.find(prefix); at != std::string::npos)
            s = s.substr(at + std::strlen(prefix));
    }
    return s;
}

bool mentions(const CommandOutput& out, std::string_view what) {
    return out.err.find(what) != std::string::npos || out.out.find(what) != std::string::npos;
}

Result<CommandOutput> run_ok(const std::vector<std::string>& argv,
                             std::chrono::milliseconds timeout) {
    auto out = run_command(argv, timeout);
    if (!out) return out.error();
    if (out->exit_code != 0) {
        return make_error(Errc::config, "{} failed: {}", argv[0], complaint(*out));
    }
    return out;
}

// `scontrol -o show WHAT`, one record per line.
Result<std::vector<SlurmRecord>> show(const char* what, std::chrono::milliseconds timeout) {
    auto out = run_ok({"scontrol", "-o", "show", what}, timeout);
    if (!out) return out.error();
    return parse_scontrol_records(out->out);
}

bool live(std::string_view state) {
    return state == "PENDING" || state == "RUNNING" || state == "CONFIGURING" ||
           state == "SUSPENDED" || state == "REQUEUED" || state == "RESIZING";
}

}  // namespace

std::vector<SlurmRecord> parse_scontrol_records(std::string_view text) {
    std::vector<SlurmRecord> records;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        SlurmRecord record;
        std::size_t i = 0;
        while (i < line.size()) {
            while (i < line.size() && line[i] == ' ')
                ++i;
            if (i >= line.size()) break;
            std::size_t j = line.find(' ', i);
            if (j == std::string_view::npos) j = line.size();
            const std::string_view word = line.substr(i, j - i);
            if (auto k = key_length(word)) {
                record.emplace_back(std::string(word.substr(0, *k)),
                                    std::string(word.substr(*k + 1)));
            } else if (!record.empty()) {
                record.back().second += ' ';
                record.back().second += word;
            }
            i = j;
        }
        if (!record.empty()) records.push_back(std::move(record));
    }
    return records;
}

std::optional<std::string> field(const SlurmRecord& record, std::string_view key) {
    for (const auto& [k, v] : record) {
        if (k == key) return v;
    }
    return std::nullopt;
}

Result<std::map<std::string, long long>> parse_gres(std::string_view text) {
    std::map<std::string, long long> out;
    if (is_null(text)) return out;
    for (std::string_view part : split_top_level(trim(text))) {
        std::string_view spec = part.substr(0, part.find('('));
        const std::size_t first = spec.find(':');
        const std::size_t last = spec.rfind(':');
        auto count = first == std::string_view::npos ? std::optional<long long>(1)
                                                     : to_number(spec.substr(last + 1));
        std::string_view name = spec.substr(0, first);
        if (name.empty() || !count) {
            return make_error(Errc::bad_input, "GRES {} is not NAME[:TYPE]:COUNT", in_quotes(part));
        }
        out[std::string(name)] += *count;
    }
    return out;
}

std::map<std::string, std::string> parse_show_config(std::string_view text) {
    std::map<std::string, std::string> out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        const std::size_t eq = line.find(" = ");
        if (eq == std::string_view::npos) continue;
        out.emplace(std::string(trim(line.substr(0, eq))), std::string(trim(line.substr(eq + 3))));
    }
    return out;
}

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> out;
    if (is_null(text)) return out;
    for (std::string_view part : split_top_level(trim(text)))
        out.emplace_back(trim(part));
    return out;
}

std::vector<int> parse_gpu_indices(std::string_view detail, std::string_view node) {
    std::vector<int> out;
    for (const auto& record : parse_scontrol_records(detail)) {
        auto nodes = field(record, "Nodes");
        auto gres = field(record, "GRES");
        if (!nodes || !gres) continue;
        auto names = expand_hostlist(*nodes);
        if (!names || std::find(names->begin(), names->end(), node) == names->end()) continue;
        for (std::string_view part : split_top_level(*gres)) {
            if (part.substr(0, part.find_first_of(":(")) != "gpu") continue;
            const std::size_t at = part.find("(IDX:");
            if (at == std::string_view::npos) continue;
            std::string_view list = part.substr(at + 5);
            list = list.substr(0, list.find(')'));
            for (std::string_view range : split_top_level(list)) {
                const std::size_t dash = range.find('-');
                auto lo = to_number(range.substr(0, dash));
                auto hi = dash == std::string_view::npos ? lo : to_number(range.substr(dash + 1));
                if (!lo || !hi || *hi < *lo || *hi - *lo > 4096) return {};
                for (long long i = *lo; i <= *hi; ++i)
                    out.push_back(static_cast<int>(i));
            }
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

bool slurm_configured() {
    if (const char* conf = std::getenv("SLURM_CONF"); conf != nullptr && *conf != '\0') {
        return ::access(conf, R_OK) == 0;
    }
    return ::access("/etc/slurm/slurm.conf", R_OK) == 0 ||
           ::access("/run/slurm/conf/slurm.conf", R_OK) == 0;
}

Result<std::vector<SlurmNodeInfo>> SlurmController::nodes() const {
    auto records = show("node", timeout_);
    if (!records) return records.error();
    std::vector<SlurmNodeInfo> nodes;
    for (const auto& record : *records) {
        auto name = field(record, "NodeName");
        if (!name) continue;
        SlurmNodeInfo node;
        node.name = *name;
        node.state = field(record, "State").value_or("");
        node.partitions = split_list(field(record, "Partitions").value_or(""));
        auto gres = parse_gres(field(record, "Gres").value_or(""));
        if (!gres) {
            return make_error(Errc::config, "scontrol show node {}: {}", node.name,
                              gres.error().message);
        }
        node.gres = std::move(*gres);
        nodes.push_back(std::move(node));
    }
    return nodes;
}

Result<SlurmSettings> SlurmController::settings() const {
    auto out = run_ok({"scontrol", "show", "config"}, timeout_);
    if (!out) return out.error();
    const auto config = parse_show_config(out->out);
    const auto get = [&](const char* key) {
        auto it = config.find(key);
        return it == config.end() ? std::string() : it->second;
    };
    SlurmSettings s;
    s.version = get("SLURM_VERSION");
    s.gres_types = split_list(get("GresTypes"));
    s.prolog_flags = split_list(get("PrologFlags"));
    s.job_submit_plugins = split_list(get("JobSubmitPlugins"));
    s.private_data = split_list(get("PrivateData"));
    return s;
}

Result<std::vector<SlurmJobInfo>> SlurmController::jobs() const {
    auto records = show("job", timeout_);
    if (!records) return records.error();
    std::vector<SlurmJobInfo> jobs;
    for (const auto& record : *records) {
        auto id = field(record, "JobId");
        if (!id) continue;  // "No jobs in the system"
        SlurmJobInfo job;
        job.id = *id;
        job.name = field(record, "JobName").value_or("");
        job.state = field(record, "JobState").value_or("");
        // UserId=root(0)
        const std::string user = field(record, "UserId").value_or("");
        const std::size_t open = user.rfind('(');
        if (open != std::string::npos) {
            auto uid = to_number(std::string_view(user).substr(open + 1, user.size() - open - 2));
            if (uid && *uid >= 0) job.user_id = static_cast<std::uint32_t>(*uid);
        }
        const std::string nodes = field(record, "NodeList").value_or("");
        job.nodes = is_null(nodes) ? std::string() : nodes;
        jobs.push_back(std::move(job));
    }
    return jobs;
}

Result<MappingState> SlurmController::mapping() const {
    // The mapping refuses the slot GRES asked for directly; Slurm itself would accept it.
    auto out = run_command({"sbatch", "--test-only", "--job-name=gpuslots-check", "-N1", "-n1",
                            "--gres=cpuslots:1", "--output=/dev/null", "--wrap=true"},
                           timeout_);
    if (!out) return out.error();
    if (mentions(*out, "gpuslots: the GRES cpuslots")) return MappingState::active;
    if (out->exit_code == 0 || mentions(*out, "Invalid generic resource")) {
        return MappingState::inactive;
    }
    return make_error(Errc::config,
                      "cannot tell whether the job_submit mapping is active: "
                      "sbatch --test-only failed: {}",
                      complaint(*out));
}

Result<Holder> SlurmController::hold(const HolderRequest& r) const {
    const std::string name = std::string(kHolderPrefix) + r.task_id;
    std::vector<std::string> argv = {
        "salloc",
        "--no-shell",
        fmt::format("--immediate={}", std::max<long long>(1, r.wait.count())),
        "--job-name=" + name,
        "--nodelist=" + r.node,
        "--nodes=1",
        "--ntasks=1",
        "--time=UNLIMITED"};
    if (!r.gres.empty()) argv.push_back("--gres=" + r.gres);
    // salloc's own wait plus the time to say so.
    auto out = run_command(argv, timeout_ + r.wait);
    if (!out) return out.error();
    const std::string& err = out->err;
    const std::size_t at = err.find("Granted job allocation ");
    if (out->exit_code != 0 || at == std::string::npos) {
        const std::string why = complaint(*out);
        if (mentions(*out, "Connection timed out") || mentions(*out, "Immediate execution") ||
            mentions(*out, "Resource temporarily unavailable")) {
            return make_error(Errc::no_fit,
                              "Slurm has no room for it on {} now (no holder job started "
                              "within {} s): {}",
                              r.node, r.wait.count(), why);
        }
        if (mentions(*out, "node configuration is not available") ||
            mentions(*out, "Invalid generic resource") || mentions(*out, "Invalid node name")) {
            return make_error(Errc::bad_input, "Slurm cannot hold that on {}: {}", r.node, why);
        }
        if (mentions(*out, "Access/permission denied")) {
            return make_error(Errc::permission, "Slurm refused the holder job: {}", why);
        }
        return make_error(Errc::config, "salloc for the holder job failed: {}", why);
    }
    Holder holder;
    holder.node = r.node;
    std::string_view id = std::string_view(err).substr(at + 23);
    holder.job_id = std::string(id.substr(0, id.find_first_not_of("0123456789")));
    // Slurm's own choice of GPUs (gres/gpu), if the holder has any.
    auto detail = run_command({"scontrol", "-d", "show", "job", holder.job_id}, timeout_);
    if (detail && detail->exit_code == 0) holder.gpus = parse_gpu_indices(detail->out, r.node);
    return holder;
}

Result<std::vector<SlurmJobInfo>> SlurmController::holders(
    const std::optional<std::string>& task_id) const {
    auto all = jobs();
    if (!all) return all.error();
    std::vector<SlurmJobInfo> out;
    for (auto& job : *all) {
        if (is_holder_of(job, task_id)) out.push_back(std::move(job));
    }
    return out;
}

bool is_holder_of(const SlurmJobInfo& job, const std::optional<std::string>& task_id) {
    if (job.user_id != 0 || !live(job.state)) return false;
    if (job.name.rfind(kHolderPrefix, 0) != 0) return false;
    return !task_id || job.name.substr(kHolderPrefix.size()) == *task_id;
}

Result<void> SlurmController::cancel(const std::vector<std::string>& job_ids) const {
    if (job_ids.empty()) return {};
    std::vector<std::string> argv = {"scancel"};
    argv.insert(argv.end(), job_ids.begin(), job_ids.end());
    auto out = run_ok(argv, timeout_);
    if (!out) return out.error();
    return {};
}

}  // namespace gpuslots
