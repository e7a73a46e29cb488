// The marker for text a person reads: tr() takes a whole-sentence format template (never a
// sentence glued from pieces), so that a translation can reorder the arguments and a catalogue
// can list every message (xgettext --keyword=tr; errors are marked by make_error, whose
// template is its second argument: --keyword=make_error:2). tools/text.hpp lists the rest.
//
// Today tr() only formats; with a catalogue it looks the template up first (gettext) and
// formats the translation with fmt::vformat. Log lines for slurmd, JSON and Prometheus text do
// not go through it: they must not change with the locale.
#pragma once

#include <fmt/format.h>

#include <string>
#include <utility>

namespace gpuslots {

template <typename... Args>
std::string tr(fmt::format_string<Args...> format, Args&&... args) {
    return fmt::format(format, std::forward<Args>(args)...);
}

}  // namespace gpuslots
