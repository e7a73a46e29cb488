#include "gpuslots/slurm_gpus.hpp"

#include <algorithm>
#include <charconv>

namespace gpuslots {

Result<std::vector<int>> parse_slurm_gpus(std::string_view text, int server_gpus) {
    std::vector<int> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find(',', start);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view part = text.substr(start, end - start);
        int value = -1;
        auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
        if (part.empty() || ec != std::errc() || ptr != part.data() + part.size() || value < 0) {
            return make_error(Errc::bad_input, "{} is not a list of GPU indices", in_quotes(text));
        }
        if (value >= server_gpus) {
            return make_error(Errc::bad_input, "GPU {} is beyond the {} GPUs it has in the config",
                              value, server_gpus);
        }
        out.push_back(value);
        start = end + 1;
    }
    std::sort(out.begin(), out.end());
    if (std::adjacent_find(out.begin(), out.end()) != out.end()) {
        return make_error(Errc::bad_input, "{} names a GPU twice", in_quotes(text));
    }
    return out;
}

}  // namespace gpuslots
