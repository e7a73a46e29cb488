#include "gpuslots/request.hpp"

#include <cctype>
#include <charconv>

namespace gpuslots {

Result<int> parse_count(std::string_view text, std::string_view what, Range allowed) {
    int value = 0;
    const char* first = text.data();
    const char* last = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(first, last, value);
    const bool digits_only =
        !text.empty() && std::isdigit(static_cast<unsigned char>(text.front())) != 0;
    if (!digits_only || ec == std::errc::invalid_argument || ptr != last) {
        return make_error(Errc::bad_input, "{}: {} is not a whole number; allowed: {}..{}", what,
                          in_quotes(text), allowed.min, allowed.max);
    }
    if (ec == std::errc::result_out_of_range || !allowed.contains(value)) {
        return make_error(Errc::bad_input, "{}: {} is out of range; allowed: {}..{}", what, text,
                          allowed.min, allowed.max);
    }
    return value;
}

Result<std::chrono::seconds> parse_duration(std::string_view text, std::string_view what) {
    static constexpr struct {
        char unit;
        long long seconds;
    } kUnits[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    const auto invalid = [&] {
        return make_error(Errc::bad_input,
                          "{}: {} is not a duration; write it as 30s, 45m, 2h, 1d or 1h30m", what,
                          in_quotes(text));
    };
    long long total = 0;
    std::size_t next_unit = 0;  // units must come from the largest down, each once
    std::string_view rest = text;
    if (rest.empty()) return invalid();
    while (!rest.empty()) {
        if (std::isdigit(static_cast<unsigned char>(rest.front())) == 0) return invalid();
        long long n = 0;
        auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
        if (ec != std::errc()) {
            return make_error(Errc::bad_input, "{}: {} is too long; at most {}", what,
                              in_quotes(text), duration_text(kMaxDuration));
        }
        rest.remove_prefix(static_cast<std::size_t>(ptr - rest.data()));
        if (rest.empty()) return invalid();  // "30": which unit?
        std::size_t u = next_unit;
        while (u < std::size(kUnits) && kUnits[u].unit != rest.front())
            ++u;
        if (u == std::size(kUnits)) return invalid();
        rest.remove_prefix(1);
        next_unit = u + 1;
        if (n > kMaxDuration.count() / kUnits[u].seconds) {
            total = kMaxDuration.count() + 1;
        } else {
            total += n * kUnits[u].seconds;
        }
        if (total > kMaxDuration.count()) {
            return make_error(Errc::bad_input, "{}: {} is too long; at most {}", what,
                              in_quotes(text), duration_text(kMaxDuration));
        }
    }
    if (total < 1) {
        return make_error(Errc::bad_input, "{}: {} is no time at all; at least 1s", what,
                          in_quotes(text));
    }
    return std::chrono::seconds(total);
}

std::string duration_text(std::chrono::seconds d) {
    long long left = d.count();
    if (left <= 0) return "0s";
    std::string out;
    for (const auto& [unit, seconds] : {std::pair{'d', 86400LL}, std::pair{'h', 3600LL},
                                        std::pair{'m', 60LL}, std::pair{'s', 1LL}}) {
        if (left >= seconds) {
            out += fmt::format("{}{}", left / seconds, unit);
            left %= seconds;
        }
    }
    return out;
}

std::string slots_text(int gpus, int cpus) {
    return fmt::format("{} GPU{} and {} CPU{}", gpus, gpus == 1 ? "" : "s", cpus,
                       cpus == 1 ? "" : "s");
}

Result<void> validate_task_id(std::string_view id) {
    if (id.empty() || id.size() > kMaxTaskIdLength) {
        return make_error(Errc::bad_input, "task id must be 1..{} characters long, got {}",
                          kMaxTaskIdLength, id.size());
    }
    if (id.front() == '-') {
        return make_error(Errc::bad_input, "task id {} must not start with '-'", in_quotes(id));
    }
    for (char c : id) {
        const bool ok = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' ||
                        c == ':' || c == '@' || c == '+' || c == '-';
        if (!ok) {
            return make_error(Errc::bad_input,
                              "task id {}: character {} is not allowed (use letters, digits "
                              "and . _ : @ + -)",
                              in_quotes(id), in_quotes(std::string_view(&c, 1)));
        }
    }
    return {};
}

}  // namespace gpuslots
