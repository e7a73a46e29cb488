#include "gpuslots/submit_side.hpp"

#include <utility>

namespace gpuslots {

HetjobComponents::HetjobComponents(std::string option, std::optional<std::string> env_at_start)
    : option_(std::move(option)), env_at_start_(std::move(env_at_start)) {}

void HetjobComponents::option_given(const std::string& value) {
    seen_.push_back(value);
}

Result<void> HetjobComponents::end_component(const std::optional<std::string>& env_now) {
    const int component = component_++;
    std::vector<std::string> seen = std::move(seen_);
    seen_.clear();
    // srun keeps the last value when a component gives none; salloc and sbatch read it back.
    if (!seen.empty()) carried_ = seen.back();
    if (component == 0) return {};  // the first component carries what it asked for

    // What the component itself asked for. When its last callback had the value Slurm read
    // back from the environment, that callback may be the read-back rather than the user's:
    // then the component asked for what came before it (or, with no other value, for what the
    // user's own environment said). Where the two readings differ, the stricter one is taken.
    std::optional<std::string> asked;
    if (seen.empty()) {
        asked = std::nullopt;
    } else if (env_now && seen.back() == *env_now) {
        asked =
            seen.size() >= 2 ? std::optional<std::string>(seen[seen.size() - 2]) : env_at_start_;
    } else {
        asked = seen.back();
    }
    if (asked == carried_) return {};

    if (!asked) {
        return make_error(Errc::bad_input,
                          "hetjob component {} gives no --{}, but Slurm would carry --{}={} of "
                          "an earlier component into it; give each component its own --{}, or "
                          "put the components without it first",
                          component, option_, option_, carried_.value_or("?"), option_);
    }
    return make_error(Errc::bad_input,
                      "hetjob component {} asks for --{}={}, but Slurm would give it --{}={} "
                      "from an earlier component (an #SBATCH line of a later component cannot "
                      "override an earlier one's); give the values per component on the "
                      "command line (sbatch --{}=A ... : --{}=B ... job.sh), or the same value "
                      "in every component",
                      component, option_, *asked, option_, carried_ ? *carried_ : "(none)", option_,
                      option_);
}

Result<void> check_step_option(const std::string& option, const std::string& job_id,
                               const std::optional<std::string>& job_value,
                               const std::optional<std::string>& step_value) {
    if (step_value == job_value) return {};
    if (!step_value) return {};  // a step that says nothing runs on the job's slots
    if (!job_value) {
        return make_error(Errc::bad_input,
                          "this step asks for --{}={}, but job {} was submitted without --{}; a "
                          "step runs on its job's slots: leave --{} off the step, or submit a "
                          "job that asks for them",
                          option, *step_value, job_id, option, option);
    }
    return make_error(Errc::bad_input,
                      "this step asks for --{}={}, but job {} was submitted with --{}={}; a step "
                      "runs on its job's slots: leave --{} off the step",
                      option, *step_value, job_id, option, *job_value, option);
}

}  // namespace gpuslots
