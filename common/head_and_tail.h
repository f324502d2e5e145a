#pragma once
// Bounds a text kept as an artifact (a tool's raw output) so one chatty
// run cannot make a message the controller refuses: the head and the tail
// survive, with a line in between saying how much was left out.

#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"

namespace iommuvm {

// `text` itself when it fits in `max_bytes`; else its first and last
// max_bytes/2 bytes around "[... N of M bytes left out ...]".
inline std::string HeadAndTail(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t half = max_bytes / 2;
  return absl::StrCat(text.substr(0, half), "\n[... ", text.size() - 2 * half, " of ",
                      text.size(), " bytes left out ...]\n", text.substr(text.size() - half));
}

}  // namespace iommuvm
