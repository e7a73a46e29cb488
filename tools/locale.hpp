// The admin tool's language: from the locale, as users expect (LANG=ja_JP.UTF-8 gpuslots
// status). See tools/locale.cpp for what changes with it and what never does.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gpuslots::cli {

// Sets the process's locale from the environment and installs the gettext catalogue
// (text domain "gpuslots") as tr()'s translator. Called once, first thing in main().
void use_locale();

// How many terminal columns `text` takes in the current locale (a CJK character takes two);
// its length in bytes where the locale cannot decode it.
std::size_t display_width(std::string_view text);

// `text` padded with spaces to `width` columns, on the right (left-aligned) or on the left.
std::string pad_right(std::string_view text, std::size_t width);
std::string pad_left(std::string_view text, std::size_t width);

}  // namespace gpuslots::cli
