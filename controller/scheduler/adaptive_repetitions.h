#pragma once
// Adaptive repetitions (`repetitions: {min, max, until_ci_below}`): when
// every run of an experiment has ended, each cell — a matrix point with all
// its repetitions — whose primary metric is not yet known to the target
// precision gets more repetitions. The primary metric is a run's
// throughput (ops/s; bytes/s for bulk tools), per operation; a cell is
// precise when, for every operation, the 95% confidence interval's
// half-width is at most until_ci_below_pct% of the mean. An imprecise cell
// gets as many repetitions as its current spread says it needs (n ≥
// (t·s / (target·mean))², at least one more), never beyond `max` runs in
// all. Cells with fewer than two succeeded runs are left alone: their
// failures are for `iommuvm rerun --failed`, not for more repetitions.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "spec/spec.h"

namespace iommuvm::scheduler {

// One run of the experiment as the decision sees it.
struct CellRun {
  spec::RunPoint point;
  bool succeeded = false;
  // Its primary metric per operation (of its latest, succeeded attempt).
  std::map<std::string, double> metric;
};

struct MoreRepetitions {
  std::vector<spec::RunPoint> points;  // the runs to add (index and repetition set)
  uint32_t cells = 0;                  // how many cells they belong to
};

// The runs to add to an experiment whose runs have all ended; new runs are
// numbered from `next_index`. Empty when every cell is precise or at max
// (or the spec's repetitions are fixed).
MoreRepetitions PlanMoreRepetitions(const spec::ExperimentSpec& spec,
                                    const std::vector<CellRun>& runs, uint32_t next_index);

}  // namespace iommuvm::scheduler
