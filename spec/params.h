#pragma once
// User axes: matrix keys beyond iommu/workload/vm vary one workload
// parameter (e.g. `value_size: [64, 4096]`). This file names the
// parameters that can vary, checks their values and applies a run's values
// to its workload.

#include <map>
#include <string>
#include <vector>

#include "spec/spec.h"

namespace iommuvm::spec {

// Names usable as user axes, sorted.
const std::vector<std::string>& AxisParameters();
// "" when `value` is valid for parameter `name`, else what is wrong.
std::string CheckAxisValue(const std::string& name, const std::string& value);
// Whether parameter `name` means anything for `w`'s app and tool.
bool AxisAppliesTo(const std::string& name, const WorkloadSpec& w);
// `w` with every parameter in `params` set (values already checked).
WorkloadSpec ApplyParams(WorkloadSpec w, const std::map<std::string, std::string>& params);
// "clients=16 value_size=4096" (empty for no parameters).
std::string FormatParams(const std::map<std::string, std::string>& params);

}  // namespace iommuvm::spec
