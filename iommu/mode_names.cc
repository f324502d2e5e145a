#include "iommu/mode_names.h"

namespace iommuvm::iommu {

const char* IommuModeName(v1::IommuMode mode) {
  switch (mode) {
    case v1::IOMMU_MODE_OFF:
      return "off";
    case v1::IOMMU_MODE_PASSTHROUGH:
      return "passthrough";
    case v1::IOMMU_MODE_LAZY:
      return "lazy";
    case v1::IOMMU_MODE_STRICT:
      return "strict";
    case v1::IOMMU_MODE_CURRENT:
      return "current";
    default:
      return "unspecified";
  }
}

bool ParseIommuModeName(const std::string& name, v1::IommuMode* out) {
  for (int m = v1::IOMMU_MODE_OFF; m <= v1::IOMMU_MODE_CURRENT; ++m) {
    if (name == IommuModeName(static_cast<v1::IommuMode>(m))) {
      *out = static_cast<v1::IommuMode>(m);
      return true;
    }
  }
  return false;
}

}  // namespace iommuvm::iommu
