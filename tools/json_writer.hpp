// The one way the admin tool writes JSON: a streaming writer that appends to a string. Every
// command's --json output goes through it, so escaping and separators live in one place.
//
// Streaming rather than a document tree (nlohmann-json): `status --json` at 10,000 servers and
// 40,000 reservations builds its text in a few milliseconds this way; building the same
// document as a tree first costs several times that (tests/bench/README.md, benchmark 8).
//
// Misuse (a value where a key is due, unbalanced ends) is a bug in the caller, not bad input:
// the writer does not check it at run time; the CLI tests parse every output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace gpuslots::cli {

// Appends s to out as a JSON string literal (quotes included), escaping what JSON requires.
void append_json_string(std::string& out, std::string_view s);

class JsonWriter {
  public:
    explicit JsonWriter(std::string& out) : out_(out) {}

    JsonWriter& begin_object() { return open('{'); }
    JsonWriter& end_object() { return close('}'); }
    JsonWriter& begin_array() { return open('['); }
    JsonWriter& end_array() { return close(']'); }

    // The next value's name; the value follows with value(), begin_object() or begin_array().
    JsonWriter& key(std::string_view name);

    JsonWriter& value(std::string_view s);
    JsonWriter& value(const char* s) { return value(std::string_view(s)); }
    JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
    JsonWriter& value(bool b);
    JsonWriter& value(std::nullptr_t);
    JsonWriter& value(std::int64_t v);
    template <typename Int,
              typename = std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>>>
    JsonWriter& value(Int v) {
        return value(static_cast<std::int64_t>(v));
    }

    template <typename T>
    JsonWriter& field(std::string_view name, const T& v) {
        return key(name).value(v);
    }
    template <typename Int>
    JsonWriter& array(std::string_view name, const std::vector<Int>& values) {
        key(name).begin_array();
        for (const auto& v : values)
            value(v);
        return end_array();
    }

  private:
    JsonWriter& open(char c);
    JsonWriter& close(char c);
    void separate();

    std::string& out_;
    // Per open object/array: has it had a member yet (a comma is due before the next)?
    std::vector<bool> had_member_;
    bool after_key_ = false;
};

// Writes out (one JSON document) and a newline to stdout.
void print_json_line(std::string out);

}  // namespace gpuslots::cli
