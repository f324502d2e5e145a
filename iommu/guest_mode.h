#pragma once
// Which IOMMU mode a guest really runs: from the vIOMMU QEMU emulates, its
// options, the guest's NIC and the mode the guest's kernel command line asks
// for. The facts were measured with Debian 12's 6.1 kernel under QEMU 7.2
// (docs/vm.md, pinned by the vm tests); they live here once, for the spec's
// checks (spec/) and `iommuvm vm-explain`, and the agent may use them too.
// A pure function: nothing boots.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "iommuvm/v1/common.pb.h"

namespace iommuvm::iommu {

enum class Viommu { kNone, kIntel, kAmd, kVirtio };
// "none", "intel", "amd", "virtio" (the spec's words), and back.
const char* ViommuName(Viommu viommu);
bool ParseViommuName(absl::string_view name, Viommu* out);

// The options QEMU's intel-iommu takes (amd-iommu has intremap and
// device-iotlb too); false is QEMU's default for each.
struct ViommuOptions {
  bool caching_mode = false;  // caching-mode: needed for VFIO, makes Linux invalidate every unmap
  bool intremap = false;
  bool device_iotlb = false;
  bool scalable_mode = false;  // x-scalable-mode
  bool flts = false;           // x-flts: first-level (stage-1) translation in scalable mode
};

enum class GuestNic { kNone, kVirtio, kVfio, kOther };
// "none", "virtio", "vfio" (an assigned device), "other" (an emulated NIC).
const char* GuestNicName(GuestNic nic);

// What the guest's kernel command line asks for.
struct GuestRequest {
  // RequestedModeFromCmdline's answer; UNSPECIFIED (or the spec's CURRENT)
  // leaves the mode to the kernel's built-in default.
  v1::IommuMode mode = v1::IOMMU_MODE_UNSPECIFIED;
  // intel_iommu=sm_on: the guest uses scalable mode where QEMU offers it.
  bool scalable_mode = false;
};
// The request of a guest kernel command line, read as the agent's probe
// reads one (iommu/cmdline.h).
GuestRequest GuestRequestFromCmdline(absl::string_view cmdline);

// A configuration QEMU or the guest cannot run as written, in the order
// the spec reports them.
enum class GuestRefusal {
  kVfioNeedsCachingMode,            // QEMU refuses vfio-pci behind intel-iommu without it
  kVfioBehindAmdIommu,              // amd-iommu cannot translate for an assigned device
  kLazyRunsStrictUnderCachingMode,  // 'DMAR: IOMMU batching disallowed due to virtualization'
  kLazyRunsStrictUnderAmdIommu,     // 'AMD-Vi: Using strict mode due to virtualization'
  kVirtioIommuCannotBeOff,          // no command-line switch turns virtio-iommu off
  kModeNeedsViommu,                 // passthrough, lazy or strict without a vIOMMU
};
// The fact behind a refusal, in words for people (no spec or XML keys).
std::string GuestRefusalFact(GuestRefusal refusal);

struct GuestModeFacts {
  bool starts = true;  // false when QEMU refuses to start the guest at all
  // OFF, PASSTHROUGH, LAZY or STRICT; UNSPECIFIED when the guest kernel's
  // built-in default decides (or the guest does not start).
  v1::IommuMode expected = v1::IOMMU_MODE_UNSPECIFIED;
  std::string reason;                  // why `expected`, for people
  std::vector<GuestRefusal> refusals;  // empty when the guest runs what it asks
};

GuestModeFacts ExpectedGuestMode(Viommu viommu, const ViommuOptions& options, GuestNic nic,
                                 const GuestRequest& request);

// A mode as vm-explain shows it: IommuModeName, but "default" for
// UNSPECIFIED and CURRENT (the kernel's built-in default).
const char* GuestModeName(v1::IommuMode mode);

}  // namespace iommuvm::iommu
