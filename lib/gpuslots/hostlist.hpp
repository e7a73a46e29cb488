// Slurm hostlist expressions, as used in slurm.conf and by `scontrol show hostnames`:
//   "gpu-[00-15]"  -> gpu-00 .. gpu-15 (the lower bound's width sets the zero padding)
//   "n[1-3,7]"     -> n1 n2 n3 n7
//   "r[1-2]g[1-2]" -> r1g1 r1g2 r2g1 r2g2 (several bracket groups multiply out)
//   "a,b[1-2]"     -> a b1 b2
// Whitespace, empty elements, nested or unbalanced brackets, descending ranges and bounds whose
// zero padding disagrees ("n[01-1]", "n[1-01]", where Slurm guesses; "n[08-100]" is fine) are
// errors: a name in the fleet must never be a guess.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "gpuslots/error.hpp"

namespace gpuslots {

// Upper bound on the names one expression may produce; a typo like "n[1-99999999]" must fail
// fast with a clear message instead of exhausting memory.
inline constexpr std::size_t kMaxHostlistNames = 1'000'000;

// The longest node name (a DNS name has at most 253 characters). Together with
// kMaxHostlistNames it bounds what one expression can cost to expand, whatever its length.
inline constexpr std::size_t kMaxNodeNameLength = 255;

// Expands `expression` into names, in the order written. Errors (Errc::bad_input) name the
// offending part and quote the expression (its first 60 characters when it is longer). Does not
// check for duplicates across expressions; see Fleet for that.
Result<std::vector<std::string>> expand_hostlist(std::string_view expression);

// The reverse, for writing slurm.conf and gres.conf lines: consecutive names that differ only
// in a trailing number become one range, in the order given ("n1 n2 n3 n7" -> "n[1-3,7]",
// "gpu-08 gpu-09 gpu-10" -> "gpu-[08-10]"). expand_hostlist(compress_hostlist(names)) == names
// for valid node names.
std::string compress_hostlist(const std::vector<std::string>& names);

// True for a valid plain (already expanded) node name: 1 to kMaxNodeNameLength letters, digits,
// '-', '_', '.'.
bool is_valid_node_name(std::string_view name);

}  // namespace gpuslots
