#pragma once
// CPU lists as taskset and the spec's `cores` write them ("0-3,8"): one
// grammar for validating a spec and for the agent that pins and measures.

#include <set>
#include <string>

#include "absl/status/statusor.h"

namespace iommuvm {

// The CPUs of `list` (CPUs and ranges such as "0-3,8", each CPU 0..4095);
// the empty list is the empty set. InvalidArgument saying what is wrong.
absl::StatusOr<std::set<int>> ParseCpuList(const std::string& list);

}  // namespace iommuvm
