#pragma once
// Expands a spec's matrix into runs: every point x every repetition, in a
// deterministic order (iommu mode outermost, so runs sharing a boot config
// are adjacent; the planner reorders further).

#include <vector>

#include "controller/spec/spec.h"

namespace iommuvm::spec {

std::vector<RunPoint> ExpandMatrix(const ExperimentSpec& spec);

}  // namespace iommuvm::spec
