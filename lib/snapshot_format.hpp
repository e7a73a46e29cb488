// The bytes of the status snapshot's files (sqlite_snapshot.hpp). Internal to lib/.
//
// A server's file: a header with the length and an FNV-1a checksum of the body, then the body,
// one record per line, strings with their length in front so that any byte may appear in them:
//   gpuslots-status 3 <body length> <checksum>
//   server 12:gpu-server-0
//   r <row id> <m|s> <owner uid> <created> <cpus> <gpu count> <0,1|-> <length>:<boot id>
//     <expires|-> <length>:<task id>          (one line; version 2 had no boot id and expiry)
//   end
// The claims (Store::claims): "claims", replaced whole (written aside, then renamed), as it
// changes once per node at most:
//   gpuslots-claims 1 <body length> <checksum>
//   node 2:n1                  (one line per server whose plugin writes this ledger)
//   end
// The head: one fixed-size line, "gpuslots-status-head 1 <commit> <check>", the commit and a
// check of it in hexadecimal, so that a torn read is recognised.
#pragma once

#include <sys/stat.h>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sqlite_snapshot.hpp"

namespace gpuslots::sqlite {

inline constexpr std::size_t kHeadSize = 64;

// "s.<name>" with bytes other than letters, digits, '-', '_' and '.' written %XX; names too
// long for a file name become "h.<hash>" (the file says which server it is).
std::string server_file_name(const std::string& server);
bool is_server_file_name(const std::string& file_name);

std::string encode_server(const ServerRows& server);
// The rows of one file; nullopt when it is not a whole, well-formed file (or was read while
// being rewritten: read it again).
std::optional<ServerRows> decode_server(const std::string& bytes);

std::string encode_claims(const std::vector<std::string>& servers);
// nullopt when it is not a whole, well-formed file.
std::optional<std::vector<std::string>> decode_claims(const std::string& bytes);

std::string encode_head(std::int64_t commit);
std::optional<std::int64_t> parse_head(const std::string& record);

// Why a directory that holds the ledger or its snapshot is not safe to use (others may write
// it, or it belongs to someone other than root and `owner`); "" when it is safe.
std::string unsafe_directory(const std::string& dir, const struct stat& st, std::uint32_t owner);

}  // namespace gpuslots::sqlite
