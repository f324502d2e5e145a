#pragma once
// What this node's QEMU can do that a VM config may need, read from QEMU
// itself (`-device DEV,help` lists a device's properties): reported at
// registration so a spec that needs a missing one is refused at submit.

#include <string>
#include <vector>

#include "common/command_runner.h"

namespace iommuvm::agent {

// "DEVICE.PROPERTY" for each property nested translation uses that
// `qemu_binary` has: intel-iommu.x-scalable-mode, intel-iommu.x-flts,
// vfio-pci.iommufd. Empty when QEMU cannot run.
std::vector<std::string> QemuFeatures(CommandRunner* runner, const std::string& qemu_binary);

// The property names in a `-device DEV,help` listing ("  x-flts=<bool>  - ...").
std::vector<std::string> DeviceProperties(const std::string& help);

}  // namespace iommuvm::agent
