#include "gpuslots/config.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>

#include "gpuslots/hostlist.hpp"

namespace gpuslots {

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

// The config file's path as messages show it: as it is, so that editors and terminals can
// follow FILE:LINE:COL, unless it holds a byte outside printable ASCII (a newline would split
// the message): then quoted and escaped.
std::string shown_path(const std::string& path) {
    const bool plain = std::all_of(path.begin(), path.end(), [](char c) {
        return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
    });
    return plain ? path : in_quotes(path);
}

// Thrown inside the parser only; parse_config turns it into an Error.
struct ParseFailure {
    std::string message;
};

// yaml-cpp's message as one printable line: some quote bytes of the input ("unknown escape
// character: " and the byte, a key for a failed lookup), which are escaped here, and a key can
// be long.
std::string yaml_message(const YAML::Exception& e) {
    constexpr std::size_t kLongest = 200;
    std::string out;
    for (char c : std::string_view(e.msg).substr(0, kLongest)) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f) {
            out += fmt::format("\\x{:02x}", u);
        } else {
            out.push_back(c);
        }
    }
    if (e.msg.size() > kLongest) out += "...";
    return out;
}

// Where a YAML document starts; yaml-cpp's parser events, with no nodes built.
class DocumentStart final : public YAML::EventHandler {
  public:
    void OnDocumentStart(const YAML::Mark& at) override { mark = at; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}

    YAML::Mark mark;
};

class Parser {
  public:
    explicit Parser(std::string source) : source_(std::move(source)) {}

    Config parse(std::string_view text);

  private:
    void check_text(std::string_view text) const;
    YAML::Node load_document(const std::string& text) const;

    template <typename... Args>
    [[noreturn]] void fail(const YAML::Mark& mark, fmt::format_string<Args...> format,
                           Args&&... args) const {
        std::string where = shown_path(source_);
        if (!mark.is_null()) where += fmt::format(":{}:{}", mark.line + 1, mark.column + 1);
        throw ParseFailure{
            fmt::format("{}: {}", where, fmt::format(format, std::forward<Args>(args)...))};
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
    Range range(const YAML::Node& node, const std::string& path, Range defaults, int min_allowed,
                int limit);
    void requests(const YAML::Node& node, Config& out);
    void slurm(const YAML::Node& node, SlurmConfig& out);

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
        expect_map(entry, path, {"name", "gpus", "cpus"});
        for (const char* key : {"name", "gpus", "cpus"}) {
            if (!entry[key]) fail(entry.Mark(), "{}: missing key '{}'", path, key);
        }
        const std::string expr = text(entry["name"], path + ".name");
        const int gpus = positive(entry["gpus"], path + ".gpus", kMaxGpusPerServer);
        const int cpus = positive(entry["cpus"], path + ".cpus", kMaxCpusPerServer);
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
            out.push_back(Server{std::move(name), gpus, cpus});
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
    expect_map(node, "state", {"backend", "path", "durability", "busy_timeout_ms", "write_queue"});
    if (node["backend"]) {
        out.backend = text(node["backend"], "state.backend");
        if (out.backend != "sqlite") {
            fail(mark_of(node["backend"]),
                 "state.backend: {} is not available in this build (available: sqlite)",
                 in_quotes(out.backend));
        }
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
               {"prolog_wait_seconds", "hide_gpus_without_reservation", "visible_devices_env"});
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

// The config is UTF-8 text with no control character but tab, LF and CR (as YAML allows).
// Checked before yaml-cpp sees it: yaml-cpp reads input that starts like UTF-16 or UTF-32 (a
// byte-order mark, or a NUL among the first bytes) in that encoding, and its line:column then
// no longer point at bytes of the file.
void Parser::check_text(std::string_view text) const {
    YAML::Mark at;
    if (text.substr(0, 2) == "\xff\xfe" || text.substr(0, 2) == "\xfe\xff") {
        fail(at,
             "the config is UTF-16 or UTF-32 text (it starts with a byte-order mark); save it "
             "as UTF-8");
    }
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7f) {
            fail(at,
                 "not valid YAML: control character 0x{:02x}; the config is UTF-8 text with no "
                 "control characters but tabs and line breaks",
                 u);
        }
        ++at.pos;
        if (c == '\n') {
            ++at.line;
            at.column = 0;
        } else {
            ++at.column;
        }
    }
}

// The config is one YAML document, loaded with YAML::Load. Not with YAML::LoadAll: yaml-cpp 0.7
// reads a ',' outside [ ] or { } as an empty document that it never consumes, so LoadAll
// appends empty documents until memory runs out. YAML::Load alone would ignore whatever
// follows the first document, so a first pass over the parser's events (no nodes built, about
// half the cost of the load) finds out where a second document would start.
YAML::Node Parser::load_document(const std::string& text) const {
    check_text(text);
    try {
        std::istringstream in(text);
        YAML::Parser events(in);
        DocumentStart first;
        DocumentStart second;
        if (events.HandleNextDocument(first) && events.HandleNextDocument(second)) {
            const YAML::Mark& at = second.mark;
            const std::string_view rest =
                std::string_view(text).substr(std::min<std::size_t>(at.pos, text.size()));
            if (rest.substr(0, 3) == "---") {
                fail(at, "a second YAML document ('---'); the config is one document");
            }
            if (rest.substr(0, 1) == ",") {
                fail(at,
                     "not valid YAML: unexpected ','; commas separate items only inside [ ] or "
                     "{{ }}");
            }
            fail(at,
                 "not valid YAML: content after the end of the document; the config is one "
                 "document");
        }
        return YAML::Load(text);
    } catch (const YAML::Exception& e) {
        fail(e.mark, "not valid YAML: {}", yaml_message(e));
    }
}

Config Parser::parse(std::string_view text) {
    const YAML::Node root = load_document(std::string(text));
    if (root.IsNull()) {
        fail(YAML::Mark::null_mark(),
             "the file is empty; expected at least 'servers:' (see "
             "etc/gpuslots.yaml)");
    }
    expect_map(root, "top level",
               {"servers", "total_servers", "gpus_per_server", "cpus_per_server", "state",
                "requests", "slurm"});

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
    return config;
}

// Why a file or text of `size` bytes is refused, for both entry points.
std::string too_large(std::size_t size) {
    return fmt::format(
        "is {} bytes, more than the limit of {} (1 MiB); write large fleets as hostlist ranges "
        "(gpu-[0000-1999]), not one entry per server",
        size, kMaxConfigBytes);
}

// What a file that is not a regular file is, for the message that refuses it.
const char* file_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a plain file";
}

}  // namespace

Result<Config> parse_config(std::string_view text, const std::string& source) {
    if (text.size() > kMaxConfigBytes) {
        return make_error(Errc::config, "{}: the config {}", shown_path(source),
                          too_large(text.size()));
    }
    try {
        return Parser(source).parse(text);
    } catch (const ParseFailure& failure) {
        return Error{Errc::config, failure.message};
    } catch (const YAML::Exception& e) {
        return make_error(Errc::config, "{}:{}:{}: {}", shown_path(source), e.mark.line + 1,
                          e.mark.column + 1, yaml_message(e));
    }
}

// Only a regular file is read: a device (/dev/zero never ends), a FIFO (blocks until a writer
// comes, or forever) or a terminal could stall or exhaust every prolog on the node. O_NONBLOCK
// keeps the open itself from waiting on a FIFO; it changes nothing for a regular file. At most
// kMaxConfigBytes + 1 bytes are read, whatever fstat said, in case the file grows meanwhile.
Result<Config> load_config(const std::string& path) {
    const std::string shown = shown_path(path);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        const int err = errno;
        return make_error(Errc::config, "cannot read config {}: {}{}", shown, std::strerror(err),
                          err == ENOENT ? " (create it from the example etc/gpuslots.yaml, or "
                                          "point --config or $GPUSLOTS_CONFIG at one)"
                                        : "");
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        return make_error(Errc::config, "cannot read config {}: {}", shown, std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return make_error(Errc::config,
                          "config {} is {}, not a regular file; point --config or "
                          "$GPUSLOTS_CONFIG at a YAML file",
                          shown, file_kind(st.st_mode));
    }
    if (static_cast<std::uintmax_t>(st.st_size) > kMaxConfigBytes) {
        ::close(fd);
        return make_error(Errc::config, "config {} {}", shown,
                          too_large(static_cast<std::size_t>(st.st_size)));
    }
    std::string text;
    char buffer[16384];
    while (text.size() <= kMaxConfigBytes) {
        const std::size_t want = std::min(sizeof buffer, kMaxConfigBytes + 1 - text.size());
        const ssize_t n = ::read(fd, buffer, want);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            return make_error(Errc::config, "cannot read config {}: {}", shown, std::strerror(err));
        }
        if (n == 0) break;
        text.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (text.size() > kMaxConfigBytes) {
        return make_error(Errc::config, "config {} {}", shown, too_large(text.size()));
    }
    return parse_config(text, path);
}

std::string resolve_config_path(const std::optional<std::string>& explicit_path) {
    if (explicit_path && !explicit_path->empty()) return *explicit_path;
    const char* env = std::getenv(kConfigEnvVar);
    if (env != nullptr && *env != '\0') return env;
    return kDefaultConfigPath;
}

}  // namespace gpuslots
