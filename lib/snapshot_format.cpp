#include "snapshot_format.hpp"

#include <pwd.h>

#include <cctype>
#include <charconv>
#include <string_view>

#include <fmt/format.h>

namespace gpuslots::sqlite {
namespace {

// Version 3 added each reservation's boot id and expiry; files of version 2 (written before
// the ledger was migrated, until their server's rows change) are read too.
constexpr std::string_view kMagic = "gpuslots-status 3 ";
constexpr std::string_view kMagicV2 = "gpuslots-status 2 ";
constexpr std::string_view kHeadMagic = "gpuslots-status-head 1 ";
constexpr std::string_view kClaimsMagic = "gpuslots-claims 1 ";
constexpr std::size_t kMaxFileName = 200;  // leaves room below NAME_MAX for the prefix

std::uint64_t check_of(std::uint64_t commit) {
    return (commit * 0x9E3779B97F4A7C15ULL) ^ 0x243F6A8885A308D3ULL;
}

std::uint64_t fnv1a(const std::string& s) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    return h;
}

bool plain(unsigned char c) {
    return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.';
}

void append_string(std::string& out, const std::string& s) {
    out += std::to_string(s.size());
    out += ':';
    out += s;
}

// A cursor over one file; every read fails (returns false) rather than running off the end.
struct Reader {
    std::string_view rest;

    bool literal(std::string_view s) {
        if (rest.substr(0, s.size()) != s) return false;
        rest.remove_prefix(s.size());
        return true;
    }
    template <typename T>
    bool number(T& value) {
        const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
        if (ec != std::errc() || end == rest.data()) return false;
        rest.remove_prefix(static_cast<std::size_t>(end - rest.data()));
        return true;
    }
    bool string(std::string& value) {
        std::size_t n = 0;
        if (!number(n) || !literal(":") || n > rest.size()) return false;
        value.assign(rest.substr(0, n));
        rest.remove_prefix(n);
        return true;
    }
    bool gpus(std::vector<int>& out) {
        if (literal("-")) return true;
        for (;;) {
            int g = 0;
            if (!number(g)) return false;
            out.push_back(g);
            if (!literal(",")) return true;
        }
    }
};

}  // namespace

std::string server_file_name(const std::string& server) {
    std::string name = "s.";
    for (unsigned char c : server) {
        if (plain(c)) {
            name += static_cast<char>(c);
        } else {
            name += fmt::format("%{:02X}", static_cast<unsigned>(c));
        }
    }
    if (name.size() > kMaxFileName) name = fmt::format("h.{:016x}", fnv1a(server));
    return name;
}

bool is_server_file_name(const std::string& file_name) {
    return file_name.size() > 2 && (file_name.rfind("s.", 0) == 0 || file_name.rfind("h.", 0) == 0);
}

std::string encode_server(const ServerRows& server) {
    std::string out = "server ";
    append_string(out, server.server);
    out += '\n';
    for (const Row& row : server.rows) {
        const Reservation& r = row.r;
        out += fmt::format("r {} {} {} {} {} {} ", row.id, r.origin == Origin::slurm ? 's' : 'm',
                           r.owner_uid, r.created_unix, r.cpus, r.gpu_count);
        if (r.gpus.empty()) {
            out += '-';
        } else {
            out += fmt::format("{}", fmt::join(r.gpus, ","));
        }
        out += ' ';
        append_string(out, r.boot_id);
        out += ' ';
        if (r.expires_unix) {
            out += std::to_string(*r.expires_unix);
        } else {
            out += '-';
        }
        out += ' ';
        append_string(out, r.task_id);
        out += '\n';
    }
    out += "end\n";
    return fmt::format("{}{:016x} {:016x}\n", kMagic, out.size(), fnv1a(out)) + out;
}

std::optional<ServerRows> decode_server(const std::string& bytes) {
    // The header: the body's length and checksum (a reader that races the writer's pwrite sees
    // a body that does not match, and reads again; bytes after the body are an older, longer
    // version's tail that the writer has not cut off yet).
    constexpr std::size_t kHeader = kMagic.size() + 34;
    if (bytes.size() < kHeader) return std::nullopt;
    const bool v2 = bytes.compare(0, kMagicV2.size(), kMagicV2) == 0;
    if (!v2 && bytes.compare(0, kMagic.size(), kMagic) != 0) return std::nullopt;
    std::uint64_t length = 0;
    std::uint64_t check = 0;
    const char* h = bytes.data() + kMagic.size();
    if (std::from_chars(h, h + 16, length, 16).ptr != h + 16 || h[16] != ' ' ||
        std::from_chars(h + 17, h + 33, check, 16).ptr != h + 33 || h[33] != '\n' ||
        length > bytes.size() - kHeader) {
        return std::nullopt;
    }
    const std::string body = bytes.substr(kHeader, length);
    if (fnv1a(body) != check) return std::nullopt;
    Reader in{body};
    ServerRows out;
    if (!in.literal("server ") || !in.string(out.server) || !in.literal("\n")) {
        return std::nullopt;
    }
    while (in.literal("r ")) {
        Row row;
        Reservation& r = row.r;
        r.server = out.server;
        if (!in.number(row.id) || !in.literal(" ") || in.rest.empty()) return std::nullopt;
        const char origin = in.rest.front();
        if (origin != 'm' && origin != 's') return std::nullopt;
        in.rest.remove_prefix(1);
        r.origin = origin == 's' ? Origin::slurm : Origin::manual;
        if (!in.literal(" ") || !in.number(r.owner_uid) || !in.literal(" ") ||
            !in.number(r.created_unix) || !in.literal(" ") || !in.number(r.cpus) ||
            !in.literal(" ") || !in.number(r.gpu_count) || !in.literal(" ") || !in.gpus(r.gpus) ||
            !in.literal(" ")) {
            return std::nullopt;
        }
        if (!v2) {
            if (!in.string(r.boot_id) || !in.literal(" ")) return std::nullopt;
            if (!in.literal("-")) {
                std::int64_t expires = 0;
                if (!in.number(expires)) return std::nullopt;
                r.expires_unix = expires;
            }
            if (!in.literal(" ")) return std::nullopt;
        }
        if (!in.string(r.task_id) || !in.literal("\n")) return std::nullopt;
        out.rows.push_back(std::move(row));
    }
    if (!in.literal("end\n") || !in.rest.empty()) return std::nullopt;
    return out;
}

std::string encode_claims(const std::vector<std::string>& servers) {
    std::string out;
    for (const auto& server : servers) {
        out += "node ";
        append_string(out, server);
        out += '\n';
    }
    out += "end\n";
    return fmt::format("{}{:016x} {:016x}\n", kClaimsMagic, out.size(), fnv1a(out)) + out;
}

std::optional<std::vector<std::string>> decode_claims(const std::string& bytes) {
    constexpr std::size_t kHeader = kClaimsMagic.size() + 34;
    if (bytes.size() < kHeader || bytes.compare(0, kClaimsMagic.size(), kClaimsMagic) != 0) {
        return std::nullopt;
    }
    std::uint64_t length = 0;
    std::uint64_t check = 0;
    const char* h = bytes.data() + kClaimsMagic.size();
    if (std::from_chars(h, h + 16, length, 16).ptr != h + 16 || h[16] != ' ' ||
        std::from_chars(h + 17, h + 33, check, 16).ptr != h + 33 || h[33] != '\n' ||
        length != bytes.size() - kHeader) {
        return std::nullopt;
    }
    const std::string body = bytes.substr(kHeader);
    if (fnv1a(body) != check) return std::nullopt;
    Reader in{body};
    std::vector<std::string> out;
    while (in.literal("node ")) {
        std::string server;
        if (!in.string(server) || !in.literal("\n")) return std::nullopt;
        out.push_back(std::move(server));
    }
    if (!in.literal("end\n") || !in.rest.empty()) return std::nullopt;
    return out;
}

std::string encode_head(std::int64_t commit) {
    const auto c = static_cast<std::uint64_t>(commit);
    std::string record = fmt::format("{}{:016x} {:016x}\n", kHeadMagic, c, check_of(c));
    record.resize(kHeadSize, ' ');
    record.back() = '\n';
    return record;
}

std::optional<std::int64_t> parse_head(const std::string& record) {
    Reader in{record};
    if (!in.literal(kHeadMagic) || in.rest.size() < 33) return std::nullopt;
    std::uint64_t commit = 0;
    std::uint64_t check = 0;
    const char* p = in.rest.data();
    if (std::from_chars(p, p + 16, commit, 16).ptr != p + 16 || p[16] != ' ' ||
        std::from_chars(p + 17, p + 33, check, 16).ptr != p + 33 || check != check_of(commit)) {
        return std::nullopt;
    }
    return static_cast<std::int64_t>(commit);
}

std::string unsafe_directory(const std::string& dir, const struct stat& st, std::uint32_t owner) {
    const auto name_of = [](std::uint32_t uid) {
        const passwd* pw = ::getpwuid(static_cast<uid_t>(uid));
        return pw != nullptr ? std::string(pw->pw_name) : std::to_string(uid);
    };
    if (!S_ISDIR(st.st_mode)) return fmt::format("{} is not a directory", dir);
    if (st.st_uid != 0 && st.st_uid != owner) {
        return fmt::format(
            "{} belongs to {}, who could replace the ledger's files; give it to root or to the "
            "ledger's owner {} (chown {} {})",
            dir, name_of(st.st_uid), name_of(owner), name_of(owner), dir);
    }
    if ((st.st_mode & 022) != 0) {
        return fmt::format(
            "{} can be written by {} (mode {:04o}), who could move the ledger's files away; "
            "make it writable by its owner only (chmod go-w {})",
            dir, (st.st_mode & 002) != 0 ? "everyone" : "its group", st.st_mode & 07777, dir);
    }
    return "";
}

}  // namespace gpuslots::sqlite
