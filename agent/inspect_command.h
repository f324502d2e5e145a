#pragma once
// `iommuvm-agent inspect`: the node's requested and detected IOMMU mode,
// the evidence, warnings and inventory, without a controller — usable on
// its own on any node, on a captured sysroot, or on a saved dmesg.

#include <ostream>
#include <string>
#include <vector>

namespace iommuvm::agent {

// argv excludes "inspect"; returns the process exit code (0 ok, 1 failed,
// 2 usage).
int RunInspect(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err);

}  // namespace iommuvm::agent
