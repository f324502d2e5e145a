#pragma once
// What this node is: identity, boot, CPU, memory, kernel and tool versions,
// read through the sysroot FileSystem and CommandRunner. Sent with every
// registration so results carry their provenance.

#include "agent/step_executor.h"
#include "iommuvm/v1/agent.pb.h"

namespace iommuvm::agent {

// Boot id, kernel command line and inventory into `reg`; missing files
// leave fields empty rather than failing.
void FillNodeFacts(const AgentDeps& deps, v1::Register* reg);

}  // namespace iommuvm::agent
