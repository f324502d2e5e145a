#pragma once
// The QEMU command line for a guest (v1::VmConfig): q35, the accelerator
// the host chose, the emulated IOMMU (intel-iommu, amd-iommu,
// virtio-iommu-pci) created before any device it translates, the NIC behind
// a PCIe root port (virtio-net with iommu_platform, or an assigned VF; on
// pcie.0 under amd-iommu, which mistranslates a device behind a port),
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
  std::string qemu_binary = "qemu-system-x86_64";
  // The data NIC's backend: QEMU's user networking (vm-check), or for a
  // run's guest a tap the host puts on its data-plane bridge.
  std::string data_netdev = "user,id=data";
  std::string data_mac;  // "" = QEMU's default
  // A second virtio NIC for the guest agent's session with the controller:
  // QEMU user networking (the host NATs its connections), and no
  // iommu_platform, so the vIOMMU never translates for it.
  std::string control_mac;  // "" = none
  std::string qmp_socket;   // "" = no QMP
  std::string extra_append;  // more guest kernel parameters (the guest agent's settings)
  std::string hugetlbfs;     // vm.hugepages: where hugetlbfs is mounted ("/dev/hugepages")
};

// The guest kernel command line: serial console, no reboot on panic, the
// tokens of vm.guest_iommu for the vIOMMU's vendor, then vm.append.
absl::StatusOr<std::string> GuestCmdline(const v1::VmConfig& vm);

absl::StatusOr<std::vector<std::string>> QemuCommandLine(const v1::VmConfig& vm,
                                                         const QemuLaunch& launch);

}  // namespace iommuvm::agent
