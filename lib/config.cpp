#include "gpuslots/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "gpuslots/hostlist.hpp"
#include "gpuslots/request.hpp"
#include "yaml_document.hpp"

namespace gpuslots {

const char* slurm_mode_name(SlurmMode mode) {
    switch (mode) {
        case SlurmMode::slots:
            return "slots";
        case SlurmMode::follow:
            return "follow";
        case SlurmMode::none:
            break;
    }
    return "none";
}

Result<Fleet> Fleet::from(std::vector<Server> servers) {
    Fleet fleet;
    fleet.index_.reserve(servers.size());
    for (std::size_t i = 0; i < servers.size(); ++i) {
        if (!fleet.index_.emplace(servers[i].name, i).second) {
            return make_error(Errc::bad_input, "server '{}' is listed twice", servers[i].name);
        }
        fleet.max_gpus_ = std::max(fleet.max_gpus_, servers[i].gpus);
        fleet.max_cpus_ = std::max(fleet.max_cpus_, servers[i].cpus);
    }
    fleet.servers_ = std::move(servers);
    return fleet;
}

std::optional<std::size_t> Fleet::find(std::string_view name) const {
    auto it = index_.find(std::string(name));
    if (it == index_.end()) return std::nullopt;
    return it->second;
}

const Server* Fleet::server(std::string_view name) const {
    auto i = find(name);
    return i ? &servers_[*i] : nullptr;
}

namespace {

// Thrown inside the parser only; parse_config turns it into an Error.
struct ParseFailure {
    std::string message;
};

class Parser {
  public:
    explicit Parser(std::string source) : source_(std::move(source)) {}

    Config parse(std::string_view text);

  private:
    template <typename... Args>
    [[noreturn]] void fail(const YAML::Mark& mark, fmt::format_string<Args...> format,
                           Args&&... args) const {
        throw ParseFailure{fmt::format("{}: {}", yaml_document::where(source_, mark),
                                       tr(format, std::forward<Args>(args)...))};
    }

    // Where to point for `node`: yaml-cpp gives an empty value ("gpus:" and nothing) the
    // position of whatever follows it, so point at its key instead.
    YAML::Mark mark_of(const YAML::Node& node) const {
        if (node.IsNull()) {
            for (const auto& [value, key_mark] : null_values_) {
                if (value.is(node)) return key_mark;
            }
        }
        return node.Mark();
    }

    // Every value a config message quotes comes from the file and can be long (a key of
    // 100,000 characters): inside the parser, in_quotes shows the first 60 and the length.
    static std::string in_quotes(std::string_view text) {
        return gpuslots::in_quotes(text, kQuotedLength);
    }
    static constexpr std::size_t kQuotedLength = 60;

    static std::string describe(const YAML::Node& node) {
        switch (node.Type()) {
            case YAML::NodeType::Null:
                return "nothing";
            case YAML::NodeType::Sequence:
                return "a list";
            case YAML::NodeType::Map:
                return "a mapping";
            case YAML::NodeType::Scalar:
                return in_quotes(node.Scalar());
            default:
                return "an undefined value";
        }
    }

    // Checks that `node` is a mapping whose keys are all in `allowed`, each at most once.
    void expect_map(const YAML::Node& node, const std::string& path,
                    std::initializer_list<std::string_view> allowed) const {
        if (!node.IsMap()) {
            fail(mark_of(node), "{}: expected a mapping (key: value lines), got {}", path,
                 describe(node));
        }
        std::set<std::string> seen;
        for (const auto& kv : node) {
            const std::string key = kv.first.Scalar();
            if (kv.second.IsNull()) null_values_.emplace_back(kv.second, kv.first.Mark());
            if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
                std::string list;
                for (auto a : allowed)
                    list += fmt::format("{}{}", list.empty() ? "" : ", ", a);
                fail(kv.first.Mark(), "{}: unknown key {} (allowed: {})", path, in_quotes(key),
                     list);
            }
            if (!seen.insert(key).second) {
                fail(kv.first.Mark(), "{}: key {} appears twice", path, in_quotes(key));
            }
        }
    }

    long long integer(const YAML::Node& node, const std::string& path, long long min, long long max,
                      std::string_view expected) const {
        if (!node.IsScalar())
            fail(mark_of(node), "{}: expected {}, got {}", path, expected, describe(node));
        const std::string& s = node.Scalar();
        long long value = 0;
        const char* first = s.data();
        const char* last = s.data() + s.size();
        if (!s.empty() && s[0] == '+') ++first;
        auto [ptr, ec] = std::from_chars(first, last, value);
        if (s.empty() || ec != std::errc() || ptr != last) {
            fail(mark_of(node), "{}: expected {}, got {}", path, expected, in_quotes(s));
        }
        if (value < min || value > max) {
            fail(mark_of(node), "{}: expected {}, got {} (allowed {}..{})", path, expected, s, min,
                 max);
        }
        return value;
    }

    int positive(const YAML::Node& node, const std::string& path, int max) const {
        return static_cast<int>(integer(node, path, 1, max, "a positive integer"));
    }

    std::string text(const YAML::Node& node, const std::string& path) const {
        if (!node.IsScalar() || node.Scalar().empty()) {
            fail(mark_of(node), "{}: expected a non-empty string, got {}", path, describe(node));
        }
        return node.Scalar();
    }

    bool boolean(const YAML::Node& node, const std::string& path) const {
        if (node.IsScalar()) {
            std::string s = node.Scalar();
            std::transform(s.begin(), s.end(), s.begin(), ::tolower);
            if (s == "true" || s == "yes") return true;
            if (s == "false" || s == "no") return false;
        }
        fail(mark_of(node), "{}: expected true or false, got {}", path, describe(node));
    }

    std::vector<Server> servers(const YAML::Node& node);
    std::vector<Server> shorthand(const YAML::Node& root);
    void state(const YAML::Node& node, StateConfig& out);
    void sqlite_state(const YAML::Node& node, SqliteOptions& out);
    void mariadb_state(const YAML::Node& node, MariadbOptions& out);
    std::string file_path(const YAML::Node& node, const std::string& path) const;
    Range range(const YAML::Node& node, const std::string& path, Range defaults, int min_allowed,
                int limit);
    void requests(const YAML::Node& node, Config& out);
    void slurm(const YAML::Node& node, SlurmConfig& out);
    void manual(const YAML::Node& node, ManualConfig& out);

    std::string source_;
    mutable std::vector<std::pair<YAML::Node, YAML::Mark>> null_values_;
};

std::vector<Server> Parser::servers(const YAML::Node& node) {
    if (!node.IsSequence() || node.size() == 0) {
        fail(mark_of(node), "servers: expected a list of entries like '- name: gpu-[0-3]', got {}",
             describe(node));
    }
    std::vector<Server> out;
    std::unordered_map<std::string, YAML::Mark> first_seen;
    for (std::size_t i = 0; i < node.size(); ++i) {
        const YAML::Node entry = node[i];
        const std::string path = fmt::format("servers[{}]", i);
        expect_map(entry, path, {"name", "gpus", "cpus", "slurm"});
        for (const char* key : {"name", "gpus", "cpus"}) {
            if (!entry[key]) fail(entry.Mark(), "{}: missing key '{}'", path, key);
        }
        const std::string expr = text(entry["name"], path + ".name");
        const int gpus = positive(entry["gpus"], path + ".gpus", kMaxGpusPerServer);
        const int cpus = positive(entry["cpus"], path + ".cpus", kMaxCpusPerServer);
        SlurmMode mode = SlurmMode::none;
        if (entry["slurm"]) {
            const std::string m = text(entry["slurm"], path + ".slurm");
            if (m == "slots") {
                mode = SlurmMode::slots;
            } else if (m == "follow") {
                mode = SlurmMode::follow;
            } else if (m != "none") {
                fail(mark_of(entry["slurm"]), "{}.slurm: expected slots, follow or none, got {}",
                     path, in_quotes(m));
            }
        }
        auto names = expand_hostlist(expr);
        if (!names) fail(mark_of(entry["name"]), "{}.name: {}", path, names.error().message);
        if (out.size() + names->size() > kMaxHostlistNames) {
            fail(mark_of(entry["name"]), "{}.name: the fleet would have more than {} servers", path,
                 kMaxHostlistNames);
        }
        for (auto& name : *names) {
            auto [it, inserted] = first_seen.emplace(name, entry["name"].Mark());
            if (!inserted) {
                fail(mark_of(entry["name"]), "{}.name: server '{}' is already defined at line {}",
                     path, name, it->second.line + 1);
            }
            out.push_back(Server{std::move(name), gpus, cpus, mode});
        }
    }
    return out;
}

// The original tool's three numbers: total_servers, gpus_per_server, cpus_per_server.
std::vector<Server> Parser::shorthand(const YAML::Node& root) {
    for (const char* key : {"total_servers", "gpus_per_server", "cpus_per_server"}) {
        if (!root[key]) {
            fail(root.Mark(),
                 "missing key '{}': the shorthand needs total_servers, gpus_per_server and "
                 "cpus_per_server together",
                 key);
        }
    }
    const int count =
        static_cast<int>(integer(root["total_servers"], "total_servers", 1,
                                 static_cast<long long>(kMaxHostlistNames), "a positive integer"));
    const int gpus = positive(root["gpus_per_server"], "gpus_per_server", kMaxGpusPerServer);
    const int cpus = positive(root["cpus_per_server"], "cpus_per_server", kMaxCpusPerServer);
    std::vector<Server> out;
    out.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i)
        out.push_back(Server{fmt::format("gpu-server-{}", i), gpus, cpus});
    return out;
}

void Parser::state(const YAML::Node& node, StateConfig& out) {
    // The SQLite store's keys sit directly under state: (users have written them so since the
    // first release); every other backend gets a section of its own.
    expect_map(node, "state",
               {"backend", "path", "durability", "busy_timeout_ms", "write_queue", "mariadb"});
    if (node["backend"]) {
        out.backend = text(node["backend"], "state.backend");
        if (out.backend != "sqlite" && out.backend != "mariadb") {
            fail(mark_of(node["backend"]),
                 "state.backend: {} is not available in this build (available: sqlite, mariadb)",
                 in_quotes(out.backend));
        }
    }
    if (node["mariadb"]) {
        if (out.backend != "mariadb") {
            fail(mark_of(node["mariadb"]),
                 "state.mariadb: set only with 'backend: mariadb' (the backend is {})",
                 in_quotes(out.backend));
        }
        mariadb_state(node["mariadb"], out.mariadb);
    }
    if (node["busy_timeout_ms"]) {
        out.busy_timeout =
            std::chrono::milliseconds(integer(node["busy_timeout_ms"], "state.busy_timeout_ms", 1,
                                              3'600'000, "a time in milliseconds"));
    }
    sqlite_state(node, out.sqlite);
}

void Parser::sqlite_state(const YAML::Node& node, SqliteOptions& out) {
    if (node["path"]) {
        const std::string given = text(node["path"], "state.path");
        std::filesystem::path p = given;
        if (p.is_relative()) p = std::filesystem::absolute(source_).parent_path() / p;
        p = p.lexically_normal();
        const std::string name = p.filename().string();
        if (name.empty() || name == "." || name == ".." || given.back() == '/') {
            fail(mark_of(node["path"]),
                 "state.path: {} names a directory; name the ledger file, e.g. "
                 "/var/lib/gpuslots/state.db",
                 in_quotes(given));
        }
        out.path = p.string();
    }
    if (node["durability"]) {
        const std::string d = text(node["durability"], "state.durability");
        if (d == "full") {
            out.durability = Durability::full;
        } else if (d == "normal") {
            out.durability = Durability::normal;
        } else {
            fail(mark_of(node["durability"]), "state.durability: expected full or normal, got {}",
                 in_quotes(d));
        }
    }
    if (node["write_queue"]) out.write_queue = boolean(node["write_queue"], "state.write_queue");
}

// A file named in the config: absolute, or relative to the config file's directory.
std::string Parser::file_path(const YAML::Node& node, const std::string& path) const {
    std::filesystem::path p = text(node, path);
    if (p.is_relative()) p = std::filesystem::absolute(source_).parent_path() / p;
    return p.lexically_normal().string();
}

void Parser::mariadb_state(const YAML::Node& node, MariadbOptions& out) {
    if (node.IsMap() && (node["password"] || node["user"])) {
        const char* key = node["password"] ? "password" : "user";
        fail(mark_of(node[key]),
             "state.mariadb.{}: credentials do not belong in the config, which every user can "
             "read; put them in the option file state.mariadb.option_file ([client] user=, "
             "password=; mode 0600, root's)",
             key);
    }
    expect_map(node, "state.mariadb",
               {"host", "port", "socket", "database", "option_file", "read_option_file",
                "connect_timeout_s", "read_timeout_s", "write_timeout_s"});
    if (node["host"]) out.host = text(node["host"], "state.mariadb.host");
    if (node["port"]) {
        out.port = static_cast<unsigned>(
            integer(node["port"], "state.mariadb.port", 1, 65535, "a TCP port number"));
    }
    if (node["socket"]) out.socket = file_path(node["socket"], "state.mariadb.socket");
    if (node["database"]) {
        out.database = text(node["database"], "state.mariadb.database");
        const bool plain = out.database.size() <= 64 &&
                           std::all_of(out.database.begin(), out.database.end(), [](char c) {
                               return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                           });
        if (out.database.empty() || !plain) {
            fail(mark_of(node["database"]),
                 "state.mariadb.database: expected a name of letters, digits and '_' (at most "
                 "64), got {}",
                 gpuslots::in_quotes(out.database, 80));
        }
    }
    if (node["option_file"])
        out.option_file = file_path(node["option_file"], "state.mariadb.option_file");
    if (node["read_option_file"]) {
        out.read_option_file =
            file_path(node["read_option_file"], "state.mariadb.read_option_file");
    }
    const auto seconds = [&](const char* key, std::chrono::seconds& field) {
        const std::string path = std::string("state.mariadb.") + key;
        if (node[key]) field = std::chrono::seconds(integer(node[key], path, 1, 3600, "seconds"));
    };
    seconds("connect_timeout_s", out.connect_timeout);
    seconds("read_timeout_s", out.read_timeout);
    seconds("write_timeout_s", out.write_timeout);
}

Range Parser::range(const YAML::Node& node, const std::string& path, Range defaults,
                    int min_allowed, int limit) {
    expect_map(node, path, {"min", "max"});
    Range r = defaults;
    if (node["min"]) {
        r.min =
            static_cast<int>(integer(node["min"], path + ".min", min_allowed, limit, "an integer"));
    }
    if (node["max"]) {
        r.max = static_cast<int>(
            integer(node["max"], path + ".max", std::max(min_allowed, 1), limit, "an integer"));
    }
    if (r.min > r.max) {
        fail(mark_of(node), "{}: min ({}) is larger than max ({})", path, r.min, r.max);
    }
    return r;
}

void Parser::requests(const YAML::Node& node, Config& out) {
    expect_map(node, "requests", {"gpus", "cpus"});
    // A request larger than the largest server could never be placed: refuse it in the config.
    if (node["gpus"]) {
        out.gpus_per_request =
            range(node["gpus"], "requests.gpus", out.gpus_per_request, 0, out.fleet.max_gpus());
    }
    if (node["cpus"]) {
        out.cpus_per_request =
            range(node["cpus"], "requests.cpus", out.cpus_per_request, 0, out.fleet.max_cpus());
    }
}

void Parser::slurm(const YAML::Node& node, SlurmConfig& out) {
    expect_map(node, "slurm",
               {"prolog_wait_seconds", "hide_gpus_without_reservation", "visible_devices_env",
                "dcgm_job_mapping_dir", "jobstats_dir"});
    for (const auto& [key, target] : {std::pair{"dcgm_job_mapping_dir", &out.dcgm_job_mapping_dir},
                                      std::pair{"jobstats_dir", &out.jobstats_dir}}) {
        if (!node[key]) continue;
        const std::string path = std::string("slurm.") + key;
        std::string dir = text(node[key], path);
        if (dir.empty() || dir[0] != '/') {
            fail(mark_of(node[key]), "{}: expected an absolute directory path, got {}", path,
                 in_quotes(dir));
        }
        *target = std::move(dir);
    }
    if (node["prolog_wait_seconds"]) {
        out.prolog_wait =
            std::chrono::seconds(integer(node["prolog_wait_seconds"], "slurm.prolog_wait_seconds",
                                         0, 86'400, "a number of seconds"));
    }
    if (node["hide_gpus_without_reservation"]) {
        out.hide_gpus_without_reservation =
            boolean(node["hide_gpus_without_reservation"], "slurm.hide_gpus_without_reservation");
    }
    if (const YAML::Node list = node["visible_devices_env"]) {
        if (!list.IsSequence()) {
            fail(mark_of(list),
                 "slurm.visible_devices_env: expected a list of variable names, got {}",
                 describe(list));
        }
        out.visible_devices_env.clear();
        for (std::size_t i = 0; i < list.size(); ++i) {
            const std::string path = fmt::format("slurm.visible_devices_env[{}]", i);
            std::string name = text(list[i], path);
            const bool valid =
                std::all_of(name.begin(), name.end(),
                            [](char c) {
                                return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                            }) &&
                std::isdigit(static_cast<unsigned char>(name[0])) == 0;
            if (!valid)
                fail(mark_of(list[i]), "{}: {} is not an environment variable name", path,
                     in_quotes(name));
            out.visible_devices_env.push_back(std::move(name));
        }
    }
}

void Parser::manual(const YAML::Node& node, ManualConfig& out) {
    expect_map(node, "manual", {"expire_after"});
    if (node["expire_after"]) {
        const std::string value = text(node["expire_after"], "manual.expire_after");
        if (value == "never") return;
        auto d = parse_duration(value, "manual.expire_after");
        if (!d) fail(mark_of(node["expire_after"]), "{}, or never", d.error().message);
        out.expire_after = *d;
    }
}

Config Parser::parse(std::string_view text) {
    auto document = yaml_document::load(std::string(text), source_);
    if (!document) throw ParseFailure{document.error().message};
    const YAML::Node root = *document;
    if (root.IsNull()) {
        fail(YAML::Mark::null_mark(),
             "the file is empty; expected at least 'servers:' (see "
             "etc/gpuslots.yaml)");
    }
    expect_map(root, "top level",
               {"servers", "total_servers", "gpus_per_server", "cpus_per_server", "state",
                "requests", "slurm", "manual"});

    Config config;
    config.source = source_;
    const bool has_shorthand =
        root["total_servers"] || root["gpus_per_server"] || root["cpus_per_server"];
    std::vector<Server> list;
    if (root["servers"] && has_shorthand) {
        fail(mark_of(root["servers"]),
             "use either 'servers:' or the shorthand total_servers/gpus_per_server/"
             "cpus_per_server, not both");
    } else if (root["servers"]) {
        list = servers(root["servers"]);
    } else if (has_shorthand) {
        list = shorthand(root);
    } else {
        fail(root.Mark(),
             "missing key 'servers' (or the shorthand total_servers, "
             "gpus_per_server, cpus_per_server)");
    }
    auto fleet = Fleet::from(std::move(list));
    if (!fleet) fail(root.Mark(), "{}", fleet.error().message);  // unreachable: names checked
    config.fleet = std::move(*fleet);
    config.gpus_per_request = Range{1, config.fleet.max_gpus()};
    config.cpus_per_request = Range{0, config.fleet.max_cpus()};

    if (root["state"]) state(root["state"], config.state);
    if (root["requests"]) requests(root["requests"], config);
    if (root["slurm"]) slurm(root["slurm"], config.slurm);
    if (root["manual"]) manual(root["manual"], config.manual);
    return config;
}

}  // namespace

Result<Config> parse_config(std::string_view text, const std::string& source) {
    try {
        return Parser(source).parse(text);
    } catch (const ParseFailure& failure) {
        return Error{Errc::config, failure.message};
    } catch (const YAML::Exception& e) {
        return make_error(Errc::config, "{}: {}", yaml_document::where(source, e.mark),
                          yaml_document::message(e));
    }
}

std::string resolve_config_path(const std::optional<std::string>& explicit_path) {
    if (explicit_path && !explicit_path->empty()) return *explicit_path;
    const char* env = std::getenv(kConfigEnvVar);
    if (env != nullptr && *env != '\0') return env;
    return kDefaultConfigPath;
}

}  // namespace gpuslots
