#pragma once
// What this node is: identity, boot, CPU, NUMA, memory, kernel and its
// IOMMU build defaults, IOMMU units, NICs and tool versions, read through
// the sysroot FileSystem and CommandRunner. Sent with every registration
// and stored per attempt, so every result carries its provenance; the
// controller derives Intel vs AMD tokens from the CPU vendor.

#include <map>
#include <string>

#include "common/command_runner.h"
#include "common/file_system.h"
#include "iommuvm/v1/agent.pb.h"

namespace iommuvm::agent {

// Missing files leave fields empty rather than failing.
v1::Inventory CollectInventory(const FileSystem& fs);
// Versions of the servers, load generators and qemu found in PATH.
std::map<std::string, std::string> ToolVersions(CommandRunner* runner);
// The running kernel's release ("6.1.0-26-amd64"; "" when unreadable).
std::string KernelRelease(const FileSystem& fs);
// The running boot's id (changes on every boot, also with kexec).
std::string BootId(const FileSystem& fs);

// Boot id, command line, inventory and tool versions into `reg`.
void FillNodeFacts(const FileSystem& fs, CommandRunner* runner, v1::Register* reg);

}  // namespace iommuvm::agent
