#include "controller/scheduler/boot_mode.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"

namespace iommuvm::scheduler {

v1::IommuMode RequestedModeFromCmdline(absl::string_view cmdline) {
  v1::IommuMode mode = v1::IOMMU_MODE_UNSPECIFIED;
  // Later tokens win, as in the kernel's own parsing.
  for (absl::string_view token : absl::StrSplit(cmdline, absl::ByAnyChar(" \t\n"),
                                                absl::SkipEmpty())) {
    if (token == "intel_iommu=off" || token == "amd_iommu=off" || token == "iommu=off") {
      mode = v1::IOMMU_MODE_OFF;
    } else if (token == "iommu=pt" || token == "iommu.passthrough=1") {
      mode = v1::IOMMU_MODE_PASSTHROUGH;
    } else if (token == "iommu.strict=0") {
      if (mode != v1::IOMMU_MODE_OFF && mode != v1::IOMMU_MODE_PASSTHROUGH) {
        mode = v1::IOMMU_MODE_LAZY;
      }
    } else if (token == "iommu.strict=1" || token == "iommu=nopt" ||
               token == "iommu.passthrough=0") {
      if (mode != v1::IOMMU_MODE_OFF) mode = v1::IOMMU_MODE_STRICT;
    }
  }
  return mode;
}

}  // namespace iommuvm::scheduler
