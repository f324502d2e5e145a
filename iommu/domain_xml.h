#pragma once
// What a libvirt domain XML asks of a guest's IOMMU, read as libvirt reads
// it: the vIOMMU (libvirt's <iommu> device, or QEMU arguments passed
// through <qemu:commandline>) and its options, the NIC (an assigned VF or
// virtio), the guest kernel's command line (direct kernel boot), vCPUs,
// memory and pinning; and, through iommu/guest_mode, the mode the guest
// will really run. No spec/: the agent's libvirt backend can use it too.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iommu/guest_mode.h"

namespace iommuvm::iommu {

struct DomainXml {
  std::string name;  // <name>
  Viommu viommu = Viommu::kNone;
  std::string viommu_from;  // where the XML asks for it: "<iommu model='intel'> (line 40)"
  ViommuOptions viommu_options;
  // <os><cmdline>, when the kernel is booted directly; otherwise the
  // bootloader on the guest's disk decides, which the XML does not show.
  std::optional<std::string> cmdline;
  GuestRequest requested;
  GuestNic nic = GuestNic::kNone;
  std::string vf;  // the assigned device's PCI address ("0000:3b:00.2"); "" when none
  // A virtio NIC whose DMA goes through the vIOMMU (<driver iommu='on'/>,
  // QEMU's iommu_platform=on); without it the NIC bypasses the vIOMMU.
  bool virtio_nic_translated = false;
  uint32_t vcpus = 1;                  // <vcpu> (libvirt's default: 1)
  std::optional<uint64_t> memory_kib;  // <memory>, or the sum of the NUMA cells
  bool pinned = false;                 // <cputune><vcpupin>
  GuestModeFacts guest;                // ExpectedGuestMode of the above
};

// The domain in `text`; InvalidArgument as "SOURCE:LINE:COLUMN: message"
// when it is not XML, has no <domain> root or no <os>, or a value libvirt
// would refuse (an unknown memory unit, a PCI address out of range, ...).
absl::StatusOr<DomainXml> ReadDomainXml(absl::string_view text, absl::string_view source);

// libvirt's memory units (virScaleInteger, case-insensitive): "b", "bytes",
// "KB" = 1000, "k"/"KiB" = 1024, ... up to "E"/"EiB"; "" means KiB. The
// size in KiB, rounded up as libvirt rounds it; InvalidArgument with the
// reason otherwise.
absl::StatusOr<uint64_t> MemoryKib(absl::string_view value, absl::string_view unit);

}  // namespace iommuvm::iommu
