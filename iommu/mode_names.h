#pragma once
// The names of IOMMU modes as specs, tables and the agent's reports write
// them ("off", "passthrough", "lazy", "strict", "current"), and back.

#include <string>

#include "iommuvm/v1/common.pb.h"

namespace iommuvm::iommu {

const char* IommuModeName(v1::IommuMode mode);
bool ParseIommuModeName(const std::string& name, v1::IommuMode* out);

}  // namespace iommuvm::iommu
