#pragma once
// Expands a spec's matrix into runs: every point x every repetition, in a
// deterministic order (iommu mode outermost, so runs sharing a boot config
// are adjacent; the planner reorders further).

#include <cstdint>
#include <string>
#include <vector>

#include "spec/spec.h"

namespace iommuvm::spec {

std::vector<RunPoint> ExpandMatrix(const ExperimentSpec& spec);

// Whether `p` has every axis value of `partial` ("iommu" -> "strict",
// "workload", "vm", "repetition", user axes by name), as matrix.exclude/
// include and `iommuvm rerun --cell` match.
bool Matches(const RunPoint& p, const PartialPoint& partial);

// How many runs ExpandMatrix can make at most (excludes not subtracted),
// computed without expanding; saturates at UINT64_MAX. `why` (optional)
// gets the factors, e.g. "iommu 4 x vm 3 x workload points 12 x
// repetitions 5".
uint64_t MatrixSizeBound(const ExperimentSpec& spec, std::string* why = nullptr);

// More runs than this in one experiment are refused at validation.
inline constexpr uint64_t kMaxRunsPerExperiment = 1000000;

}  // namespace iommuvm::spec
