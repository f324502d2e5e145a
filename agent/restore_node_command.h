#pragma once
// `iommuvm-agent restore-node`: undoes what the agent wrote to this node
// (agent/node/node_restore.h); `iommuvm undeploy` runs it on every node.

#include <ostream>
#include <string>
#include <vector>

namespace iommuvm::agent {

// argv excludes "restore-node"; returns the exit code (0 ok, 1 failed,
// 2 usage).
int RunRestoreNode(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err);

}  // namespace iommuvm::agent
