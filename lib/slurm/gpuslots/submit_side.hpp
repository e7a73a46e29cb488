// What the submit side (srun, sbatch, salloc) checks beyond the values themselves, before any
// job or step exists.
//
// 1. Heterogeneous jobs: each component must reserve what it asked for, and where Slurm would
// carry another component's value into it, the submission is refused instead of guessed.
//
// Slurm 22.05.8 keeps one value per SPANK option for the whole command, not one per component
// (measured with a probe plugin, srun/salloc/sbatch; the plugin's option callback and
// init_post_opt run once per component, in order):
//   - srun:   a component that does not give the option keeps the previous component's value.
//   - salloc, sbatch: after each component, the value is exported to the command's own
//     environment as SLURM_SPANK__SLURM_SPANK_OPTION_gpuslots_<option>, and the next
//     component reads it back (the callback runs again with it) after its #SBATCH lines and
//     before its command line. So an sbatch component's own #SBATCH value is overridden by the
//     previous component's, and a component without the option inherits it.
//   - A user's own SLURM_SPANK_... variable (set before the command) is read back the same way
//     in every component: that is Slurm's documented way to give an option by environment.
// Whatever the component carries in the end reaches both the job_submit mapping (its GRES)
// and the prolog (its reservation), so they never disagree with each other; this check makes
// them agree with what the user asked.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gpuslots/error.hpp"

namespace gpuslots {

class HetjobComponents {
  public:
    // `env_at_start`: the option's SLURM_SPANK_ variable when the command started, if any.
    HetjobComponents(std::string option, std::optional<std::string> env_at_start);

    // The option callback ran with `value` (for the component being parsed).
    void option_given(const std::string& value);

    // init_post_opt: the component being parsed is complete. `env_now` is the option's
    // SLURM_SPANK_ variable now (what Slurm read back into this component, if it did).
    // Errors (bad_input, from the second component on): the component would carry another
    // value than it asked for; the message says which and what to do instead.
    Result<void> end_component(const std::optional<std::string>& env_now);

    // The value the last completed component carries.
    const std::optional<std::string>& carried() const { return carried_; }
    // The option's SLURM_SPANK_ variable when the command started.
    const std::optional<std::string>& env_at_start() const { return env_at_start_; }

  private:
    std::string option_;
    std::optional<std::string> env_at_start_;
    std::vector<std::string> seen_;  // this component's callback values, in order
    std::optional<std::string> carried_;
    int component_ = 0;
};

// 2. Steps. srun inside an allocation (SLURM_JOB_ID set) starts a step of that job, which runs
// on the job's slots. Without PrologFlags=Alloc, a node's prolog runs when the job's first step
// starts there, and it sees that step's values, not the job's: a step that asks for other slots
// would size the job's reservation on those nodes differently from what Slurm counts. So such
// a step is refused here (and again on the node, gpuslots/slurm_job.hpp: step_refusal).
// `job_value`: what sbatch/salloc exported into the job's environment
// (SLURM_SPANK__SLURM_SPANK_OPTION_gpuslots_<option>); `step_value`: what the step carries.
// Returns the reason to refuse (bad_input), or success.
Result<void> check_step_option(const std::string& option, const std::string& job_id,
                               const std::optional<std::string>& job_value,
                               const std::optional<std::string>& step_value);

}  // namespace gpuslots
