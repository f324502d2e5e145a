#pragma once
// A validation error pinned to a place in the spec file.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace iommuvm::spec {

struct SpecError {
  int line = 0;          // 1-based; 0 when the error has no position
  int column = 0;        // 1-based
  std::string key_path;  // e.g. workloads.redis.generator.clients
  std::string message;

  // "file:line:column: key_path: message"
  std::string Format(const std::string& file) const {
    std::string where = line > 0 ? absl::StrCat(file, ":", line, ":", column) : file;
    if (key_path.empty()) return absl::StrCat(where, ": ", message);
    return absl::StrCat(where, ": ", key_path, ": ", message);
  }
};

using SpecErrors = std::vector<SpecError>;

}  // namespace iommuvm::spec
