#include "yaml_document.hpp"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <sstream>
#include <string_view>

#include "gpuslots/config.hpp"

namespace gpuslots::yaml_document {
namespace {

// Thrown inside this file only; load() turns it into an Error.
struct Failure {
    YAML::Mark mark;
    std::string message;
};

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

// The config is UTF-8 text with no control character but tab, LF and CR (as YAML allows).
// Checked before yaml-cpp sees it: yaml-cpp reads input that starts like UTF-16 or UTF-32 (a
// byte-order mark, or a NUL among the first bytes) in that encoding, and its line:column then
// no longer point at bytes of the file. Throws Failure at the first byte that is not allowed.
void check_text(std::string_view text) {
    YAML::Mark at;
    if (text.substr(0, 2) == "\xff\xfe" || text.substr(0, 2) == "\xfe\xff") {
        throw Failure{at,
                      "the config is UTF-16 or UTF-32 text (it starts with a byte-order mark); "
                      "save it as UTF-8"};
    }
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7f) {
            throw Failure{at, fmt::format("not valid YAML: control character 0x{:02x}; the config "
                                          "is UTF-8 text with no control characters but tabs "
                                          "and line breaks",
                                          u)};
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
// follows the first document, so a first pass over the parser's events finds out where a
// second document would start. It builds no nodes but scans the whole text, which costs almost
// as much as the load itself: measurable only for large files (10,000 servers one entry each),
// which are better written as hostlist ranges anyway.
YAML::Node load_one(const std::string& text) {
    check_text(text);
    std::istringstream in(text);
    YAML::Parser events(in);
    DocumentStart first;
    DocumentStart second;
    if (events.HandleNextDocument(first) && events.HandleNextDocument(second)) {
        const YAML::Mark& at = second.mark;
        const std::string_view rest =
            std::string_view(text).substr(std::min<std::size_t>(at.pos, text.size()));
        if (rest.substr(0, 3) == "---") {
            throw Failure{at, "a second YAML document ('---'); the config is one document"};
        }
        if (rest.substr(0, 1) == ",") {
            throw Failure{at,
                          "not valid YAML: unexpected ','; commas separate items only inside "
                          "[ ] or { }"};
        }
        throw Failure{at,
                      "not valid YAML: content after the end of the document; the config is "
                      "one document"};
    }
    return YAML::Load(text);
}

}  // namespace

std::string shown_path(const std::string& path) {
    const bool plain = std::all_of(path.begin(), path.end(), [](char c) {
        return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
    });
    return plain ? path : in_quotes(path);
}

std::string where(const std::string& source, const YAML::Mark& mark) {
    if (mark.is_null()) return shown_path(source);
    return fmt::format("{}:{}:{}", shown_path(source), mark.line + 1, mark.column + 1);
}

std::string message(const YAML::Exception& e) {
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

std::string too_large(std::size_t size) {
    return fmt::format(
        "is {} bytes, more than the limit of {} (1 MiB); write large fleets as hostlist ranges "
        "(gpu-[0000-1999]), not one entry per server",
        size, kMaxConfigBytes);
}

Result<YAML::Node> load(const std::string& text, const std::string& source) {
    if (text.size() > kMaxConfigBytes) {
        return make_error(Errc::config, "{}: the config {}", shown_path(source),
                          too_large(text.size()));
    }
    try {
        return load_one(text);
    } catch (const Failure& failure) {
        return make_error(Errc::config, "{}: {}", where(source, failure.mark), failure.message);
    } catch (const YAML::Exception& e) {
        return make_error(Errc::config, "{}: not valid YAML: {}", where(source, e.mark),
                          message(e));
    }
}

}  // namespace gpuslots::yaml_document
