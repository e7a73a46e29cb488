#include "gpuslots/hostlist.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>

namespace gpuslots {
namespace {

bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
}

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (std::isdigit(static_cast<unsigned char>(c)) == 0) return false;
    }
    return true;
}

std::string pad(std::uint64_t value, std::size_t width) {
    std::string digits = std::to_string(value);
    if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
    return digits;
}

// Messages quote at most this much of the expression or of one of its parts.
constexpr std::size_t kShown = 60;

std::string quoted(std::string_view text) {
    return in_quotes(text, kShown);
}

// Splits on commas that are not inside brackets. Bracket balance is checked by the caller.
std::vector<std::string_view> split_top_level(std::string_view s) {
    std::vector<std::string_view> parts;
    int depth = 0;
    std::size_t start = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '[') ++depth;
        if (s[i] == ']') --depth;
        if (s[i] == ',' && depth == 0) {
            parts.push_back(s.substr(start, i - start));
            start = i + 1;
        }
    }
    parts.push_back(s.substr(start));
    return parts;
}

// Expands the inside of one bracket group ("1-3,7", "00-15") into the suffixes it stands for.
Result<std::vector<std::string>> expand_ranges(const std::string& expr, std::string_view inside) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= inside.size()) {
        std::size_t comma = inside.find(',', start);
        if (comma == std::string_view::npos) comma = inside.size();
        std::string_view item = inside.substr(start, comma - start);
        start = comma + 1;
        if (item.empty()) {
            return make_error(Errc::bad_input, "hostlist {}: empty range in {}", expr,
                              quoted("[" + std::string(inside) + "]"));
        }
        std::size_t dash = item.find('-');
        std::string_view lo_text = item.substr(0, dash);
        std::string_view hi_text = dash == std::string_view::npos ? lo_text : item.substr(dash + 1);
        if (!all_digits(lo_text) || !all_digits(hi_text)) {
            return make_error(Errc::bad_input,
                              "hostlist {}: {} is not a number or a range like 1-8", expr,
                              quoted(item));
        }
        // 18 digits always fit in 64 bits, with room for hi - lo + 1.
        if (lo_text.size() > 18 || hi_text.size() > 18) {
            return make_error(Errc::bad_input,
                              "hostlist {}: {} has a number of more than 18 digits", expr,
                              quoted(item));
        }
        std::uint64_t lo = 0;
        std::uint64_t hi = 0;
        std::from_chars(lo_text.data(), lo_text.data() + lo_text.size(), lo);
        std::from_chars(hi_text.data(), hi_text.data() + hi_text.size(), hi);
        if (lo > hi) {
            return make_error(Errc::bad_input, "hostlist {}: range {} runs backwards", expr,
                              quoted(item));
        }
        // The lower bound's zero padding sets the width, as in Slurm. Stricter than Slurm, bounds
        // that disagree about it are errors, since the names meant are a guess: Slurm reads
        // n[01-1] as n01 (a truncated n[01-10]?) and n[1-01] as n1.
        const bool lo_padded = lo_text.size() > 1 && lo_text[0] == '0';
        const bool hi_padded = hi_text.size() > 1 && hi_text[0] == '0';
        if (lo_padded && hi_text.size() < lo_text.size()) {
            return make_error(Errc::bad_input,
                              "hostlist {}: range '{}': the upper bound '{}' is shorter than the "
                              "zero-padded lower bound '{}'; write it as '{}-{}' if that is what "
                              "is meant",
                              expr, item, hi_text, lo_text, lo_text, pad(hi, lo_text.size()));
        }
        if (hi_padded && !lo_padded) {
            return make_error(Errc::bad_input,
                              "hostlist {}: range '{}': the upper bound '{}' is zero-padded but "
                              "the lower bound '{}' is not; write both with the same number of "
                              "digits",
                              expr, item, hi_text, lo_text);
        }
        if (hi_padded && hi_text.size() != lo_text.size()) {
            return make_error(Errc::bad_input,
                              "hostlist {}: range '{}': the upper bound '{}' is zero-padded to "
                              "{} digits but the lower bound '{}' to {}; write both with the same "
                              "number of digits",
                              expr, item, hi_text, hi_text.size(), lo_text, lo_text.size());
        }
        if (hi - lo >= kMaxHostlistNames || out.size() + (hi - lo + 1) > kMaxHostlistNames) {
            return make_error(Errc::bad_input, "hostlist {}: more than {} names", expr,
                              kMaxHostlistNames);
        }
        // Slurm pads to the width of the lower bound when it has a leading zero.
        const std::size_t width = lo_text.size() > 1 && lo_text[0] == '0' ? lo_text.size() : 0;
        for (std::uint64_t v = lo; v <= hi; ++v)
            out.push_back(pad(v, width));
        if (comma == inside.size()) break;
    }
    return out;
}

// Expands one comma-free element such as "r[1-2]g[01-02]x". The element is first split into
// parts (runs of plain characters, bracket groups), with the number of names and the longest
// name known before any name is built; then each name is built once, in one allocation.
Result<std::vector<std::string>> expand_element(const std::string& expr, std::string_view element) {
    if (element.empty()) {
        return make_error(Errc::bad_input, "hostlist {}: empty name between commas", expr);
    }
    // "[0-999999]" and then 100,000 letters would stand for 10^11 characters: refused here, with
    // nothing built yet.
    auto too_long = [&] {
        return make_error(Errc::bad_input, "hostlist {}: a name longer than {} characters", expr,
                          kMaxNodeNameLength);
    };
    std::vector<std::vector<std::string>> parts;  // each: the texts it can stand for
    std::size_t count = 1;
    std::size_t longest = 0;
    std::size_t i = 0;
    while (i < element.size()) {
        const char c = element[i];
        if (c == '[') {
            const std::size_t close = element.find(']', i);
            if (close == std::string_view::npos) {
                return make_error(Errc::bad_input, "hostlist {}: '[' without ']'", expr);
            }
            std::string_view inside = element.substr(i + 1, close - i - 1);
            if (inside.find('[') != std::string_view::npos) {
                return make_error(Errc::bad_input, "hostlist {}: nested '['", expr);
            }
            auto suffixes = expand_ranges(expr, inside);
            if (!suffixes) return suffixes.error();
            std::size_t longest_suffix = 0;
            for (const auto& suffix : *suffixes)
                longest_suffix = std::max(longest_suffix, suffix.size());
            if (longest + longest_suffix > kMaxNodeNameLength) return too_long();
            longest += longest_suffix;
            if (count * suffixes->size() > kMaxHostlistNames) {
                return make_error(Errc::bad_input, "hostlist {}: more than {} names", expr,
                                  kMaxHostlistNames);
            }
            count *= suffixes->size();
            parts.push_back(std::move(*suffixes));
            i = close + 1;
        } else if (c == ']') {
            return make_error(Errc::bad_input, "hostlist {}: ']' without '['", expr);
        } else if (is_name_char(c)) {
            std::size_t end = i;
            while (end < element.size() && is_name_char(element[end]))
                ++end;
            if (longest + (end - i) > kMaxNodeNameLength) return too_long();
            longest += end - i;
            parts.push_back({std::string(element.substr(i, end - i))});
            i = end;
        } else {
            return make_error(Errc::bad_input,
                              "hostlist {}: character '{}' is not allowed in a node name", expr, c);
        }
    }
    // Every combination, the last part changing fastest: r[1-2]g[1-2] is r1g1 r1g2 r2g1 r2g2.
    std::vector<std::string> names;
    names.reserve(count);
    std::vector<std::size_t> at(parts.size(), 0);
    for (std::size_t n = 0; n < count; ++n) {
        std::size_t length = 0;
        for (std::size_t p = 0; p < parts.size(); ++p)
            length += parts[p][at[p]].size();
        std::string name;
        name.reserve(length);
        for (std::size_t p = 0; p < parts.size(); ++p)
            name += parts[p][at[p]];
        names.push_back(std::move(name));
        for (std::size_t p = parts.size(); p-- > 0;) {
            if (++at[p] < parts[p].size()) break;
            at[p] = 0;
        }
    }
    return names;
}

}  // namespace

bool is_valid_node_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxNodeNameLength) return false;
    for (char c : name) {
        if (!is_name_char(c)) return false;
    }
    return true;
}

Result<std::vector<std::string>> expand_hostlist(std::string_view expression) {
    if (expression.empty()) return make_error(Errc::bad_input, "hostlist is empty");
    const std::string shown = quoted(expression);
    for (char c : expression) {
        if (!is_name_char(c) && c != '[' && c != ']' && c != ',') {
            return make_error(Errc::bad_input,
                              "hostlist {}: character {} is not allowed in a node name", shown,
                              in_quotes(std::string_view(&c, 1)));
        }
    }
    int depth = 0;
    for (char c : expression) {
        if (c == '[' && ++depth > 1) {
            return make_error(Errc::bad_input, "hostlist {}: nested '['", shown);
        }
        if (c == ']' && --depth < 0) {
            return make_error(Errc::bad_input, "hostlist {}: ']' without '['", shown);
        }
    }
    if (depth != 0) {
        return make_error(Errc::bad_input, "hostlist {}: '[' without ']'", shown);
    }
    std::vector<std::string> all;
    for (std::string_view element : split_top_level(expression)) {
        auto names = expand_element(shown, element);
        if (!names) return names.error();
        if (all.size() + names->size() > kMaxHostlistNames) {
            return make_error(Errc::bad_input, "hostlist {}: more than {} names", shown,
                              kMaxHostlistNames);
        }
        for (auto& n : *names)
            all.push_back(std::move(n));
    }
    return all;
}

namespace {

// A name's trailing number: "gpu-08" -> prefix "gpu-", digits "08".
struct Numbered {
    std::string_view prefix;
    std::string_view digits;
};

Numbered split_number(std::string_view name) {
    std::size_t i = name.size();
    while (i > 0 && std::isdigit(static_cast<unsigned char>(name[i - 1])) != 0)
        --i;
    // Very long digit runs are left as they are (a range of them could not be parsed back).
    if (name.size() - i > 18) i = name.size();
    return {name.substr(0, i), name.substr(i)};
}

// One group of names "prefix[ranges]". Zero-padded numbers keep their width (the lower bound's
// width pads the whole range when it is read back), so a group is either padded to one width
// or unpadded.
struct Group {
    std::string prefix;
    std::size_t width = 0;  // 0: unpadded
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;

    bool takes(const Numbered& n, std::uint64_t value) const {
        if (n.prefix != prefix || ranges.empty()) return false;
        const bool padded = n.digits.size() > 1 && n.digits[0] == '0';
        const bool fits = width == 0 ? !padded : n.digits.size() == width;
        return fits && value > ranges.back().second;  // ascending, as expand_hostlist reads it
    }
    std::string text() const {
        if (ranges.size() == 1 && ranges[0].first == ranges[0].second) {
            return prefix + pad(ranges[0].first, width);
        }
        std::string out = prefix + '[';
        for (std::size_t i = 0; i < ranges.size(); ++i) {
            if (i > 0) out += ',';
            out += pad(ranges[i].first, width);
            if (ranges[i].second != ranges[i].first) out += '-' + pad(ranges[i].second, width);
        }
        return out + ']';
    }
};

}  // namespace

std::string compress_hostlist(const std::vector<std::string>& names) {
    std::vector<std::string> parts;
    std::optional<Group> group;
    const auto flush = [&] {
        if (group) parts.push_back(group->text());
        group.reset();
    };
    for (const auto& name : names) {
        const Numbered n = split_number(name);
        std::uint64_t value = 0;
        if (n.digits.empty() ||
            std::from_chars(n.digits.data(), n.digits.data() + n.digits.size(), value).ec !=
                std::errc()) {
            flush();
            parts.push_back(name);
            continue;
        }
        if (group && group->takes(n, value)) {
            if (value == group->ranges.back().second + 1) {
                group->ranges.back().second = value;
            } else {
                group->ranges.emplace_back(value, value);
            }
            continue;
        }
        flush();
        const bool padded = n.digits.size() > 1 && n.digits[0] == '0';
        group = Group{std::string(n.prefix), padded ? n.digits.size() : 0, {{value, value}}};
    }
    flush();
    std::string out;
    for (const auto& p : parts) {
        if (!out.empty()) out += ',';
        out += p;
    }
    return out;
}

}  // namespace gpuslots
