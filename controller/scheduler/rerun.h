#pragma once
// `iommuvm rerun EXP`: which ended runs of an experiment get a new attempt.
// Failed and cancelled runs (the cells that lack repetitions), runs counted
// but marked unsteady, or both; optionally only in some cells
// ("iommu=strict,workload=redis-get"). A run's earlier attempts stay in the
// history; its results become those of the new attempt.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/store/store.h"
#include "spec/spec.h"

namespace iommuvm::scheduler {

struct RerunOptions {
  bool failed = false;    // FAILED and CANCELLED runs
  bool unsteady = false;  // SUCCEEDED runs whose latest attempt is marked unsteady
  // Only runs matching one of these (all if empty).
  std::vector<spec::PartialPoint> cells;
};

// "iommu=strict,workload=redis-get,clients=16" -> its axis values; an
// unknown axis or a missing '=' is InvalidArgument naming it. `spec` says
// which axes exist (iommu, workload, vm, repetition and its user axes).
absl::StatusOr<spec::PartialPoint> ParseCell(const spec::ExperimentSpec& spec,
                                             const std::string& text);

// The runs to queue again, in run order. `latest` is each run's latest
// attempt (by run id).
std::vector<int64_t> SelectRerun(const std::vector<store::RunRecord>& runs,
                                 const std::map<int64_t, const store::AttemptRecord*>& latest,
                                 const RerunOptions& options);

}  // namespace iommuvm::scheduler
