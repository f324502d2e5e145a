// Adaptive repetitions: a cell gets more runs while its primary metric's
// 95% CI is wider than the target, as many as its spread says, never past
// max; precise cells, failing cells and fixed specs get none.
#include "controller/scheduler/adaptive_repetitions.h"

#include <gtest/gtest.h>

#include <random>

#include "results/statistics.h"

namespace iommuvm::scheduler {
namespace {

spec::ExperimentSpec Adaptive(uint32_t min, uint32_t max, double pct) {
  spec::ExperimentSpec s;
  s.repetitions = min;
  s.max_repetitions = max;
  s.until_ci_below_pct = pct;
  return s;
}

CellRun RunOf(const std::string& workload, uint32_t repetition, std::optional<double> value,
              const std::string& op = "GET") {
  CellRun r;
  r.point.workload = workload;
  r.point.iommu = v1::IOMMU_MODE_STRICT;
  r.point.vm = "bare-metal";
  r.point.repetition = repetition;
  r.point.index = repetition - 1;
  r.succeeded = value.has_value();
  if (value) r.metric[op] = *value;
  return r;
}

// Feeds a cell from `draw` until PlanMoreRepetitions adds nothing, as the
// controller does round by round; returns how many runs it took.
uint32_t RunsUntilDone(const spec::ExperimentSpec& s, const std::function<double()>& draw) {
  std::vector<CellRun> runs;
  for (uint32_t i = 1; i <= s.repetitions; ++i) runs.push_back(RunOf("w", i, draw()));
  for (int round = 0; round < 100; ++round) {
    MoreRepetitions more = PlanMoreRepetitions(s, runs, static_cast<uint32_t>(runs.size()));
    if (more.points.empty()) break;
    for (const auto& p : more.points) {
      CellRun r;
      r.point = p;
      r.succeeded = true;
      r.metric["GET"] = draw();
      runs.push_back(r);
    }
  }
  return static_cast<uint32_t>(runs.size());
}

TEST(AdaptiveRepetitionsTest, StopsAtTheTargetOnAQuietMetric) {
  // 1% noise, target ±2%: a handful of runs reach it, far from max.
  std::mt19937 rng(7);
  std::normal_distribution<double> quiet(100000, 1000);
  spec::ExperimentSpec s = Adaptive(3, 20, 2);
  uint32_t n = RunsUntilDone(s, [&] { return quiet(rng); });
  EXPECT_GE(n, 3u);
  EXPECT_LT(n, 20u);
  // And the runs it ended with meet the target.
  std::mt19937 again(7);
  std::vector<double> values;
  for (uint32_t i = 0; i < n; ++i) values.push_back(quiet(again));
  results::Summary summary = results::Summarize(values, 0.95);
  ASSERT_TRUE(summary.ci_half.has_value());
  EXPECT_LE(*summary.ci_half / summary.mean * 100, 2.0);
}

TEST(AdaptiveRepetitionsTest, StopsAtMaxOnANoisyMetric) {
  std::mt19937 rng(11);
  std::normal_distribution<double> noisy(100000, 40000);
  EXPECT_EQ(RunsUntilDone(Adaptive(3, 12, 2), [&] { return noisy(rng); }), 12u);
}

TEST(AdaptiveRepetitionsTest, AddsWhatTheSpreadNeedsNumberedAfterTheLastRun) {
  // 3 runs, ±~12% spread, target 5%: more than one, at most max - 3.
  std::vector<CellRun> runs = {RunOf("w", 1, 90), RunOf("w", 2, 100), RunOf("w", 3, 110)};
  MoreRepetitions more = PlanMoreRepetitions(Adaptive(3, 10, 5), runs, 42);
  ASSERT_GT(more.points.size(), 1u);
  EXPECT_LE(more.points.size(), 7u);
  EXPECT_EQ(more.cells, 1u);
  EXPECT_EQ(more.points[0].index, 42u);
  EXPECT_EQ(more.points[0].repetition, 4u);
  EXPECT_EQ(more.points[0].workload, "w");
  EXPECT_EQ(more.points[0].iommu, v1::IOMMU_MODE_STRICT);
  EXPECT_EQ(more.points.back().repetition, 3u + more.points.size());
}

TEST(AdaptiveRepetitionsTest, EveryOperationMustBePrecise) {
  // GET is steady, SET is not: the cell needs more.
  std::vector<CellRun> runs;
  for (uint32_t i = 1; i <= 3; ++i) {
    CellRun r = RunOf("w", i, 1000);
    r.metric["SET"] = i == 2 ? 500 : 1500;
    runs.push_back(r);
  }
  EXPECT_FALSE(PlanMoreRepetitions(Adaptive(3, 10, 2), runs, 3).points.empty());
  for (auto& r : runs) r.metric["SET"] = 800;
  EXPECT_TRUE(PlanMoreRepetitions(Adaptive(3, 10, 2), runs, 3).points.empty());
}

TEST(AdaptiveRepetitionsTest, FixedSpecsFailingCellsAndFullCellsGetNone) {
  std::vector<CellRun> noisy = {RunOf("w", 1, 50), RunOf("w", 2, 150), RunOf("w", 3, 100)};
  spec::ExperimentSpec fixed;
  fixed.repetitions = 3;
  EXPECT_TRUE(PlanMoreRepetitions(fixed, noisy, 3).points.empty());
  // Two of three failed: that is rerun's work, not more repetitions.
  std::vector<CellRun> failing = {RunOf("w", 1, 50), RunOf("w", 2, std::nullopt),
                                  RunOf("w", 3, std::nullopt)};
  EXPECT_TRUE(PlanMoreRepetitions(Adaptive(3, 10, 2), failing, 3).points.empty());
  // Failed runs count towards max: a cell never runs more than max times.
  std::vector<CellRun> full = noisy;
  for (uint32_t i = 4; i <= 10; ++i) full.push_back(RunOf("w", i, std::nullopt));
  EXPECT_TRUE(PlanMoreRepetitions(Adaptive(3, 10, 2), full, 10).points.empty());
}

}  // namespace
}  // namespace iommuvm::scheduler
