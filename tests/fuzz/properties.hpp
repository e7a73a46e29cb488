// What every fuzz target checks beyond "no crash" (AddressSanitizer and UBSan see to that):
// a property that does not hold prints what was expected and aborts, so that libFuzzer keeps
// the input as a crash artifact.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gpuslots/error.hpp"

namespace gpuslots::fuzz {

template <typename Detail>
void require(bool holds, const char* property, Detail&& detail) {
    if (holds) return;
    const std::string text = detail();
    std::fprintf(stderr, "property violated: %s\n  %s\n", property, text.c_str());
    std::abort();
}

inline void require(bool holds, const char* property) {
    require(holds, property, [] { return std::string(); });
}

// An error as the front-ends print it: the expected class, a message that starts with `prefix`,
// one line of printable ASCII (in_quotes escapes anything else), and of bounded length however
// large the input was.
inline void check_error(const Error& error, Errc expected, std::string_view prefix) {
    const std::string& m = error.message;
    require(error.code == expected, "the error has the documented class",
            [&] { return std::string(errc_name(error.code)) + ": " + m; });
    require(m.rfind(prefix, 0) == 0, "the error starts with its prefix", [&] { return m; });
    for (char c : m) {
        const auto u = static_cast<unsigned char>(c);
        require(u >= 0x20 && u < 0x7f, "the error is one line of printable ASCII",
                [&] { return m; });
    }
    require(m.size() < 1024, "the error is shorter than 1024 characters",
            [&] { return m.substr(0, 200); });
}

}  // namespace gpuslots::fuzz
