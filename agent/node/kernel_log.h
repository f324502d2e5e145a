#pragma once
// The kernel log lines that say how the IOMMU was set up at boot, matched
// loosely because the wording varies between kernel versions:
//   iommu: Default domain type: Translated|Passthrough [(set via ...)]
//   iommu: DMA domain TLB invalidation policy: lazy|strict mode [...]
//   DMAR: IOMMU batching disallowed due to virtualization
//   AMD-Vi: Using strict mode due to virtualization
//   DMAR: IOMMU disabled / DMAR: IOMMU enabled
// Accepts `dmesg` output and raw /dev/kmsg records ("6,12,345,-;text").

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/command_runner.h"
#include "common/file_system.h"

namespace iommuvm::agent {

struct KernelLogFacts {
  std::string default_domain;  // "Translated", "Passthrough", "" when not logged
  std::string tlb_policy;      // "lazy", "strict", ""
  // The driver runs strict whatever was asked because it runs virtualized:
  // an emulated VT-d with caching mode never batches invalidations; the AMD
  // driver under an emulated AMD-Vi uses strict mode. A lazy request runs
  // strict.
  bool batching_disallowed = false;
  std::string batching_line;  // the line that said so
  // Flush policy from the drivers' own words before 5.14 printed "TLB
  // invalidation policy": Intel "DMAR: Disable batched IOTLB flush"
  // (intel_iommu=strict) -> strict; AMD "AMD-Vi: IO/TLB flush on unmap
  // enabled" -> strict, "AMD-Vi: Lazy IO/TLB flushing enabled" -> lazy.
  std::string driver_flush_policy;  // "lazy", "strict", ""
  std::string driver_flush_line;
  bool iommu_disabled = false;
  bool iommu_enabled = false;
  std::vector<std::string> lines;  // the matching lines, without prefixes
};

KernelLogFacts ParseKernelLog(absl::string_view log);

// The live kernel log: /dev/kmsg read without blocking, or `dmesg` when
// /dev/kmsg cannot be opened.
absl::StatusOr<std::string> ReadLiveKernelLog(CommandRunner* runner);

// The kernel log of the node behind `sysroot`: the live one for "/";
// captured and simulated nodes keep theirs as <sysroot>/dmesg.txt.
absl::StatusOr<std::string> ReadKernelLogOf(const FileSystem& sysroot, CommandRunner* runner);

}  // namespace iommuvm::agent
