#pragma once
// The QEMU command line for a guest (v1::VmConfig): q35, the accelerator
// the host chose, the emulated IOMMU (intel-iommu, amd-iommu,
// virtio-iommu-pci) created before any device it translates, the NIC behind
// a PCIe root port (virtio-net with iommu_platform, or an assigned VF),
// direct kernel boot with the guest IOMMU mode's tokens, and the serial
// console in a file. Configurations QEMU or the guest cannot run are
// refused with the reason (e.g. VFIO behind intel-iommu needs caching mode;
// QEMU's amd-iommu cannot translate for an assigned device).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "iommuvm/v1/agent.pb.h"

namespace iommuvm::agent {

struct QemuLaunch {
  std::string accel = "tcg";  // kvm | tcg
  std::string console_path;   // the guest's serial console is written here
};

// The guest kernel command line: serial console, no reboot on panic, the
// tokens of vm.guest_iommu for the vIOMMU's vendor, then vm.append.
absl::StatusOr<std::string> GuestCmdline(const v1::VmConfig& vm);

absl::StatusOr<std::vector<std::string>> QemuCommandLine(const v1::VmConfig& vm,
                                                         const QemuLaunch& launch);

}  // namespace iommuvm::agent
