// What the locale changes in the admin tool, and what it must never change.
//
// Changes: the language of the text a person reads (the status table and its totals, the
// result lines, every warning and error line): each goes through tr() (gpuslots/text.hpp),
// which looks it up in the catalogue of the text domain "gpuslots" (po/*.po). LC_CTYPE too,
// for the width of a translated column heading.
//
// Never changes: JSON, Prometheus text, exit codes, the ledger and what is written to Slurm.
// LC_NUMERIC and every category but LC_CTYPE and LC_MESSAGES stay "C" (nothing reads or prints
// a number or a time differently), and a locale whose
// character set is not UTF-8 gets the templates as written with LC_CTYPE "C": the catalogue
// is UTF-8 and the input checks (task ids, host names) classify bytes through <cctype>, which
// in a UTF-8 locale classifies exactly like "C" and in an 8-bit one would not. The plugin does
// not link this file: nothing it logs in slurmd's log is translated.
//
// Where the catalogue is read: GPUSLOTS_LOCALEDIR if set (the build tree's, for the tests,
// which run the tool uninstalled), else the installed CMAKE_INSTALL_FULL_LOCALEDIR.
#include "locale.hpp"

#include <langinfo.h>
#include <libintl.h>

#include <clocale>
#include <cstdlib>
#include <cstring>
#include <cwchar>
#include <vector>

#include "gpuslots/text.hpp"

#ifndef GPUSLOTS_LOCALE_DIR
#error "GPUSLOTS_LOCALE_DIR: the installed locale directory (tools/CMakeLists.txt sets it)"
#endif

namespace gpuslots::cli {
namespace {

constexpr const char* kTextDomain = "gpuslots";

const char* from_catalogue(const char* msgid) {
    return ::dgettext(kTextDomain, msgid);
}

// Only the two categories the tool uses are taken from the environment (LC_ALL, LC_CTYPE,
// LC_MESSAGES, LANG, as setlocale() reads them): every other one stays "C", so nothing else
// can change, and a process does not load the locale's other category files (13 file opens
// and reads for C.UTF-8, on every start). An English locale ("C", "POSIX", "C.UTF-8", or
// one whose messages are "C") without $LANGUAGE has no catalogue to look anything up in:
// none is opened.
bool english(const char* messages) {
    // GNU gettext reads $LANGUAGE (a list of languages) for every locale but "C" itself.
    const char* languages = std::getenv("LANGUAGE");
    if (std::strcmp(messages, "C") != 0 && languages != nullptr && *languages != '\0') return false;
    return std::strcmp(messages, "C") == 0 || std::strcmp(messages, "POSIX") == 0 ||
           std::strncmp(messages, "C.", 2) == 0;
}

}  // namespace

void use_locale() {
    if (std::setlocale(LC_CTYPE, "") == nullptr) return;  // an unknown locale: stay "C"
    if (std::strcmp(::nl_langinfo(CODESET), "UTF-8") != 0) {
        std::setlocale(LC_CTYPE, "C");
        return;
    }
    const char* messages = std::setlocale(LC_MESSAGES, "");
    if (messages == nullptr || english(messages)) return;
    const char* dir = std::getenv("GPUSLOTS_LOCALEDIR");
    if (dir == nullptr || *dir == '\0') dir = GPUSLOTS_LOCALE_DIR;
    if (::bindtextdomain(kTextDomain, dir) == nullptr) return;
    ::bind_textdomain_codeset(kTextDomain, "UTF-8");
    set_translator(&from_catalogue);
}

std::size_t display_width(std::string_view text) {
    bool ascii = true;
    for (const char c : text)
        ascii &= static_cast<unsigned char>(c) < 0x80;
    if (ascii) return text.size();
    const std::string s(text);
    std::mbstate_t state{};
    const char* src = s.c_str();
    const std::size_t n = std::mbsrtowcs(nullptr, &src, 0, &state);
    if (n == static_cast<std::size_t>(-1)) return text.size();
    std::vector<wchar_t> wide(n + 1);
    src = s.c_str();
    state = std::mbstate_t{};
    std::mbsrtowcs(wide.data(), &src, n + 1, &state);
    const int width = ::wcswidth(wide.data(), n);
    return width < 0 ? text.size() : static_cast<std::size_t>(width);
}

std::string pad_right(std::string_view text, std::size_t width) {
    std::string out(text);
    const std::size_t w = display_width(text);
    if (w < width) out.append(width - w, ' ');
    return out;
}

std::string pad_left(std::string_view text, std::size_t width) {
    const std::size_t w = display_width(text);
    std::string out(w < width ? width - w : 0, ' ');
    out += text;
    return out;
}

}  // namespace gpuslots::cli
