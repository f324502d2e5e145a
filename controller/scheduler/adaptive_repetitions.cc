#include "controller/scheduler/adaptive_repetitions.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "results/statistics.h"

namespace iommuvm::scheduler {
namespace {

using CellKey = std::tuple<int, std::string, std::string, std::map<std::string, std::string>>;

CellKey KeyOf(const spec::RunPoint& p) {
  return {static_cast<int>(p.iommu), p.workload, p.vm, p.params};
}

}  // namespace

MoreRepetitions PlanMoreRepetitions(const spec::ExperimentSpec& spec,
                                    const std::vector<CellRun>& runs, uint32_t next_index) {
  MoreRepetitions more;
  if (!spec.adaptive() || spec.until_ci_below_pct <= 0) return more;
  struct Cell {
    spec::RunPoint first;
    uint32_t runs = 0;
    uint32_t last_repetition = 0;
    std::map<std::string, std::vector<double>> values;  // operation -> per succeeded run
    uint32_t succeeded = 0;
  };
  std::map<CellKey, Cell> cells;
  for (const CellRun& r : runs) {
    Cell& c = cells[KeyOf(r.point)];
    if (c.runs++ == 0) c.first = r.point;
    c.last_repetition = std::max(c.last_repetition, r.point.repetition);
    if (!r.succeeded) continue;
    ++c.succeeded;
    for (const auto& [op, v] : r.metric) c.values[op].push_back(v);
  }
  double target = spec.until_ci_below_pct / 100;
  for (auto& [key, c] : cells) {
    if (c.succeeded < 2 || c.runs >= spec.max_repetitions) continue;
    // The runs the noisiest operation needs at its current spread.
    double needed = 0;
    for (const auto& [op, values] : c.values) {
      results::Summary s = results::Summarize(values, 0.95);
      if (!s.ci_half || s.mean <= 0) continue;
      if (*s.ci_half <= target * s.mean) continue;
      double t = results::StudentTQuantile(0.975, static_cast<double>(s.n - 1));
      needed = std::max(needed, std::pow(t * s.sd / (target * s.mean), 2));
    }
    if (needed <= 0) continue;
    auto want = static_cast<uint32_t>(std::ceil(needed));
    uint32_t add =
        std::min(want > c.succeeded ? want - c.succeeded : 1, spec.max_repetitions - c.runs);
    ++more.cells;
    for (uint32_t i = 0; i < add; ++i) {
      spec::RunPoint p = c.first;
      p.index = next_index++;
      p.repetition = ++c.last_repetition;
      more.points.push_back(std::move(p));
    }
  }
  return more;
}

}  // namespace iommuvm::scheduler
