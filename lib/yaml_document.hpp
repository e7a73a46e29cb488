// The config's text as one YAML document, apart from the schema (config.cpp) because it is about
// yaml-cpp's traps rather than gpuslots' keys: a stray ',' that its multi-document loader reads
// as endless empty documents, input it decodes as UTF-16, messages that carry raw input bytes.
// For lib/ only.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <string>

#include "gpuslots/error.hpp"

namespace gpuslots::yaml_document {

// `path` as messages show it: as it is, so that editors and terminals can follow
// FILE:LINE:COL, unless it holds a byte outside printable ASCII (a newline would split the
// message): then quoted and escaped.
std::string shown_path(const std::string& path);

// How a message about `source` at `mark` starts: "FILE:LINE:COL", or "FILE" for a null mark.
std::string where(const std::string& source, const YAML::Mark& mark);

// yaml-cpp's message as one printable line of at most about 200 characters: some messages
// quote bytes of the input ("unknown escape character: " and the byte, a key).
std::string message(const YAML::Exception& e);

// Why a config of `size` bytes is refused: "is N bytes, more than the limit of ...".
std::string too_large(std::size_t size);

// Loads `text`, named `source` in messages, as exactly one YAML document: at most
// kMaxConfigBytes of UTF-8 text with no control character but tab, LF and CR. An empty text
// gives a null node. Errors: Errc::config, "FILE:LINE:COL: ..." (a second document, a stray
// ',', content after the document, a control character, invalid YAML).
Result<YAML::Node> load(const std::string& text, const std::string& source);

}  // namespace gpuslots::yaml_document
