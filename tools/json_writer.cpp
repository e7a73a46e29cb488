#include "json_writer.hpp"

#include <fmt/format.h>

#include <cstdio>

#include "gpuslots/status.hpp"

namespace gpuslots::cli {

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    std::size_t run = 0;  // start of the characters not yet appended
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s.data() + run, i - run);
        run = i + 1;
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        }
    }
    out.append(s.data() + run, s.size() - run);
    out += '"';
}

void JsonWriter::separate() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!had_member_.empty()) {
        if (had_member_.back()) out_ += ',';
        had_member_.back() = true;
    }
}

JsonWriter& JsonWriter::open(char c) {
    separate();
    out_ += c;
    had_member_.push_back(false);
    return *this;
}

JsonWriter& JsonWriter::close(char c) {
    out_ += c;
    if (!had_member_.empty()) had_member_.pop_back();
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
    separate();
    append_json_string(out_, name);
    out_ += ':';
    after_key_ = true;
    return *this;
}

JsonWriter& JsonWriter::value(std::string_view s) {
    separate();
    append_json_string(out_, s);
    return *this;
}

JsonWriter& JsonWriter::value(bool b) {
    separate();
    out_ += b ? "true" : "false";
    return *this;
}

JsonWriter& JsonWriter::value(std::nullptr_t) {
    separate();
    out_ += "null";
    return *this;
}

JsonWriter& JsonWriter::value(std::int64_t v) {
    separate();
    append_decimal(out_, v);
    return *this;
}

void print_json_line(std::string out) {
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace gpuslots::cli
