// The marker for text a person reads: tr() takes a whole-sentence format template (never a
// sentence glued from pieces), so that a translation can reorder the arguments and a catalogue
// can list every message (xgettext --keyword=tr; errors are marked by make_error, whose
// template is its second argument: --keyword=make_error:2). tools/text.hpp lists the rest.
//
// tr() looks the template up through the translator a front-end installed and formats what
// it gets back. Only the admin tool installs one (GNU gettext, tools/locale.cpp); the plugin
// never does, so everything it logs in slurmd's log is the template as written whatever the
// locale. JSON and Prometheus text do not go through tr() at all.
#pragma once

#include <fmt/format.h>

#include <string>
#include <utility>

namespace gpuslots {

// Returns the translation of a template (a NUL-terminated msgid), or the msgid itself.
using Translator = const char* (*)(const char* msgid);

// Installs the process's translator (nullptr: none, the default). Call it once, before any
// message is made; it is not synchronised with tr() on other threads.
void set_translator(Translator translator);
Translator translator();

template <typename... Args>
std::string tr(fmt::format_string<Args...> format, Args&&... args) {
    const Translator translate = translator();
    if (translate == nullptr) return fmt::format(format, std::forward<Args>(args)...);
    const fmt::string_view id = format;
    const std::string msgid(id.data(), id.size());
    const char* translated = translate(msgid.c_str());
    if (translated != nullptr && msgid != translated) {
        // A catalogue is data: a translation whose fields do not fit the arguments (checked
        // by tests/i18n, but a site may install its own) falls back to the template.
        try {
            return fmt::vformat(translated, fmt::make_format_args(args...));
        } catch (const fmt::format_error&) {
        }
    }
    return fmt::format(format, std::forward<Args>(args)...);
}

}  // namespace gpuslots
