#pragma once
// CPU lists as taskset and the spec's `cores` write them ("0-3,8"): one
// grammar for validating a spec and for the agent that pins and measures.

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace iommuvm {

// The CPUs of `list` (CPUs and ranges such as "0-3,8", each CPU 0..4095);
// the empty list is the empty set. InvalidArgument saying what is wrong.
absl::StatusOr<std::set<int>> ParseCpuList(const std::string& list);

// "36-39,72" from CPUs in ascending order (ParseCpuList's inverse).
std::string FormatCpuList(const std::vector<int>& cpus);

// The `index`-th CPU of `list`, round robin ("8,10", 3 -> 10): where the
// index-th of several processes (one per flow) goes. InvalidArgument for a
// bad or empty list.
absl::StatusOr<int> CpuAt(const std::string& list, size_t index);

// `argv` run pinned to `cpus` ("taskset -c CPUS argv..."), or as is when
// `cpus` is empty.
std::vector<std::string> PinnedCommand(const std::string& cpus, std::vector<std::string> argv);

// The program a command line runs, past a PinnedCommand prefix.
const std::string& ProgramOf(const std::vector<std::string>& argv);

}  // namespace iommuvm
