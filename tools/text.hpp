// The one home of the admin tool's human text. Every sentence it shows a person is a whole-
// sentence format template passed to tr() (gpuslots/text.hpp) or to one of the functions
// below, or, for errors, to make_error() in lib/ (config errors: fail() in lib/config.cpp);
// never a sentence glued from pieces. The catalogue's messages are therefore exactly what
// po/xgettext.sh finds (keywords tr, say, warn, complain, make_error:2, fail:2), and the test
// i18n.catalogue checks that po/ja.po translates every one. The locale picks the language:
// tools/locale.cpp.
//
// JSON, Prometheus text, slurmd's log lines and exit codes never go through here: they must
// not change with the locale.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <utility>

#include "gpuslots/text.hpp"

namespace gpuslots::cli {

using gpuslots::tr;

// A line of the command's result, on stdout; the template ends with its own "\n".
template <typename... Args>
void say(fmt::format_string<Args...> format, Args&&... args) {
    std::fputs(tr(format, std::forward<Args>(args)...).c_str(), stdout);
}

// "gpuslots: warning: <text>" on stderr: something the admin should know; the command goes on.
template <typename... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
    fmt::print(stderr, "gpuslots: {}\n",
               tr("warning: {}", tr(format, std::forward<Args>(args)...)));
}

// "gpuslots: <text>" on stderr: a problem that decides the exit code (the caller returns it).
template <typename... Args>
void complain(fmt::format_string<Args...> format, Args&&... args) {
    fmt::print(stderr, "gpuslots: {}\n", tr(format, std::forward<Args>(args)...));
}

}  // namespace gpuslots::cli
