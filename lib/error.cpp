#include "gpuslots/error.hpp"

namespace gpuslots {

const char* errc_name(Errc code) {
    switch (code) {
        case Errc::bad_input:
            return "bad_input";
        case Errc::no_fit:
            return "no_fit";
        case Errc::not_found:
            return "not_found";
        case Errc::conflict:
            return "conflict";
        case Errc::config:
            return "config";
        case Errc::ledger:
            return "ledger";
        case Errc::busy:
            return "busy";
        case Errc::unreachable:
            return "unreachable";
        case Errc::permission:
            return "permission";
        case Errc::internal:
            return "internal";
    }
    return "internal";
}

std::string in_quotes(std::string_view text) {
    std::string out = "'";
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f || c == '\\' || c == '\'') {
            out += fmt::format("\\x{:02x}", u);
        } else {
            out.push_back(c);
        }
    }
    out.push_back('\'');
    return out;
}

std::string in_quotes(std::string_view text, std::size_t limit) {
    if (text.size() <= limit) return in_quotes(text);
    return fmt::format("{}... ({} bytes)", in_quotes(text.substr(0, limit)), text.size());
}

}  // namespace gpuslots
