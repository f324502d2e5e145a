#pragma once
// What a kernel command line asks of the IOMMU, from its tokens. The
// authoritative check (sysfs group types, kernel log) runs on the agent;
// this is the controller's first look at a registering node.

#include "absl/strings/string_view.h"

#include "iommuvm/v1/common.pb.h"

namespace iommuvm::scheduler {

// OFF, PASSTHROUGH, LAZY or STRICT from the tokens; UNSPECIFIED when the
// line leaves the choice to the kernel's built-in default.
v1::IommuMode RequestedModeFromCmdline(absl::string_view cmdline);

}  // namespace iommuvm::scheduler
