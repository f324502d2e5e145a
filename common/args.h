#pragma once
// Command-line arguments of the iommuvm CLI: positionals and --flags
// (--name value, --name=value, or boolean --name).

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace iommuvm {

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;
  bool Has(const std::string& name) const { return flags.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback) const {
    auto it = flags.find(name);
    return it == flags.end() ? fallback : it->second;
  }
};

// `value_flags` take a value; `bool_flags` do not. Unknown flags are errors.
absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv,
                               const std::set<std::string>& value_flags,
                               const std::set<std::string>& bool_flags);

}  // namespace iommuvm
