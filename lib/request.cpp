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
