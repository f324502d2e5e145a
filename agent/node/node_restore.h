#pragma once
// Undoes everything iommuvm-agent wrote to a node (what `iommuvm undeploy`
// runs there): the grub drop-in (then update-grub, so the node boots its
// original command line again), the one-shot grub entry and a pending
// grub-reboot of it, a staged kexec kernel, the pending-switch record,
// devices left on vfio-pci and VFs enabled for guests.

#include <string>
#include <vector>

#include "common/command_runner.h"
#include "common/file_system.h"

namespace iommuvm::agent {

struct RestoreOptions {
  std::string state_dir = "/var/lib/iommuvm-agent";
  // false for a root other than the running system's (an image being
  // prepared): files are removed there, but update-grub, grub-editenv and
  // kexec act on the running system, so they are not run.
  bool run_boot_tools = true;
};

// What was undone, one line each (empty: nothing of iommuvm's was there).
// Errors only when a boot tool that must run fails.
absl::StatusOr<std::vector<std::string>> RestoreNode(FileSystem* sysroot, FileSystem* host,
                                                     CommandRunner* runner,
                                                     const RestoreOptions& options);

}  // namespace iommuvm::agent
