// Facts about where the ledger is stored that the admin must hear about.
#pragma once

#include <optional>
#include <string>

namespace gpuslots {

// The name of the network or cluster filesystem that holds `path` (or the nearest existing
// directory above it): "nfs", "cifs", "lustre", ... SQLite's file locking is not reliable on
// these, so a ledger must not live there. nullopt for local filesystems.
std::optional<std::string> network_filesystem(const std::string& path);

}  // namespace gpuslots
