// Fuzz target: Slurm hostlist expressions (expand_hostlist), on any bytes.
// Properties: no crash, hang or memory blow-up; an error is Errc::bad_input, one line, starts
// with "hostlist", and stays short however long the expression; an expression that expands
// gives 1 to kMaxHostlistNames valid node names of bounded length, each of which expands to
// itself alone, and the names joined by commas expand to the same list again (for lists of up to
// 10,000 names).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gpuslots/hostlist.hpp"
#include "properties.hpp"

using namespace gpuslots;
using gpuslots::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view expression(reinterpret_cast<const char*>(data), size);
    auto names = expand_hostlist(expression);
    if (!names) {
        fuzz::check_error(names.error(), Errc::bad_input, "hostlist");
        return 0;
    }
    require(!names->empty() && names->size() <= kMaxHostlistNames,
            "an expression gives 1 to kMaxHostlistNames names");
    // Every name of a list of up to 10,000, a sample of a longer one (checking a million names
    // of 255 characters under ASan takes longer than -timeout): the first, the last, a few.
    const std::size_t step = names->size() <= 10'000 ? 1 : names->size() / 1000;
    for (std::size_t i = 0; i < names->size(); i += step) {
        for (std::size_t at : {i, names->size() - 1}) {
            const std::string& name = (*names)[at];
            require(is_valid_node_name(name) && name.size() <= kMaxNodeNameLength,
                    "expanded names are valid node names of bounded length", [&] { return name; });
        }
    }
    // A plain name stands for itself. Checked on a sample: the first, the last, and a few.
    const std::size_t sample = names->size() / 16 + 1;
    for (std::size_t i = 0; i < names->size(); i += sample) {
        for (std::size_t at : {i, names->size() - 1}) {
            auto alone = expand_hostlist((*names)[at]);
            require(alone.ok() && alone->size() == 1 && alone->front() == (*names)[at],
                    "a plain name expands to itself", [&] { return (*names)[at]; });
        }
    }
    // Without brackets an expression is its comma-separated names, in order.
    if (expression.find('[') == std::string_view::npos) {
        std::string again;
        for (const auto& name : *names)
            again += (again.empty() ? "" : ",") + name;
        require(again == expression, "a bracket-free expression is its names",
                [&] { return again; });
    } else if (names->size() <= 10'000) {  // a larger list would only repeat the same check
        std::string joined;
        for (const auto& name : *names)
            joined += (joined.empty() ? "" : ",") + name;
        auto again = expand_hostlist(joined);
        require(again.ok() && *again == *names, "the names joined by commas expand to themselves",
                [&] { return std::string(expression); });
    }
    return 0;
}
