#include "controller/planner/planner.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "controller/spec/matrix.h"

namespace iommuvm::planner {
namespace {

// A random matrix: 1-4 modes, 1-3 VMs, 1-4 workloads, 1-5 repetitions.
std::vector<spec::RunPoint> RandomRuns(std::mt19937& rng, spec::ExperimentSpec* spec) {
  const v1::IommuMode modes[] = {v1::IOMMU_MODE_OFF, v1::IOMMU_MODE_PASSTHROUGH,
                                 v1::IOMMU_MODE_LAZY, v1::IOMMU_MODE_STRICT};
  spec->matrix.iommu.assign(modes, modes + 1 + rng() % 4);
  spec->matrix.vm = {"bare-metal"};
  for (uint32_t i = 0; i < rng() % 3; ++i) spec->matrix.vm.push_back("vm" + std::to_string(i));
  spec->matrix.workload.clear();
  for (uint32_t i = 0; i <= rng() % 4; ++i) spec->matrix.workload.push_back("w" + std::to_string(i));
  spec->repetitions = 1 + rng() % 5;
  return spec::ExpandMatrix(*spec);
}

PlanOptions Options(uint32_t pairs, bool across, bool randomize, uint64_t seed) {
  PlanOptions o;
  o.pairs = pairs;
  o.order.repetitions_across_boots = across;
  o.order.randomize = randomize;
  o.order.seed = seed;
  o.run_time = [](const spec::RunPoint& r) { return absl::Seconds(10 + r.index % 7); };
  return o;
}

TEST(PlannerTest, PropertiesHoldOverRandomMatrices) {
  std::mt19937 rng(12345);
  for (int trial = 0; trial < 300; ++trial) {
    spec::ExperimentSpec spec;
    auto runs = RandomRuns(rng, &spec);
    uint32_t pairs = 1 + rng() % 6;
    bool across = rng() % 2;
    Plan plan = MakePlan(runs, Options(pairs, across, true, trial));
    SCOPED_TRACE(testing::Message() << "trial " << trial << ", " << runs.size() << " runs, "
                                    << pairs << " pairs, across=" << across);
    // Every run exactly once.
    std::vector<int> seen(runs.size());
    for (const auto& p : plan.pairs) {
      std::set<std::pair<int, uint32_t>> boots;
      for (const auto& b : p.boots) {
        // A pair boots each boot config at most once.
        EXPECT_TRUE(boots.insert({b.mode, b.instance}).second);
        for (uint32_t r : b.runs) {
          ++seen[r];
          EXPECT_EQ(runs[r].iommu, b.mode);
          if (across) {
            EXPECT_EQ(runs[r].repetition, b.instance);
          }
        }
      }
    }
    for (int s : seen) EXPECT_EQ(s, 1);
    // Boot groups: modes, times repetitions when each repetition gets its own boot.
    uint32_t groups = spec.matrix.iommu.size() * (across ? spec.repetitions : 1);
    EXPECT_EQ(plan.boot_groups, groups);
    EXPECT_GE(plan.switches, groups);
    EXPECT_GE(plan.makespan, plan.lower_bound);
    // On one pair nothing is split: exactly the minimum number of switches.
    Plan single = MakePlan(runs, Options(1, across, true, trial));
    EXPECT_EQ(single.switches, groups);
  }
}

TEST(PlannerTest, VmConfigsAreGroupedWithinABoot) {
  spec::ExperimentSpec spec;
  spec.matrix.iommu = {v1::IOMMU_MODE_STRICT};
  spec.matrix.vm = {"bare-metal", "a", "b"};
  spec.matrix.workload = {"w1", "w2", "w3"};
  spec.repetitions = 3;
  Plan plan = MakePlan(spec::ExpandMatrix(spec), Options(1, false, true, 7));
  EXPECT_EQ(plan.switches, 1u);
  EXPECT_EQ(plan.pairs[0].vm_launches, 2u);  // a once, b once
}

TEST(PlannerTest, SameSeedSamePlanOtherSeedOtherOrder) {
  spec::ExperimentSpec spec;
  spec.matrix.iommu = {v1::IOMMU_MODE_OFF, v1::IOMMU_MODE_STRICT};
  spec.matrix.workload = {"w1", "w2", "w3", "w4"};
  spec.repetitions = 5;
  auto runs = spec::ExpandMatrix(spec);
  auto order = [&](uint64_t seed) {
    std::vector<uint32_t> out;
    for (const auto& p : MakePlan(runs, Options(2, false, true, seed)).pairs) {
      for (const auto& b : p.boots) out.insert(out.end(), b.runs.begin(), b.runs.end());
    }
    return out;
  };
  EXPECT_EQ(order(1), order(1));
  EXPECT_NE(order(1), order(2));
  // Without randomize the order is the matrix order within each boot.
  Plan plain = MakePlan(runs, Options(1, false, false, 0));
  EXPECT_TRUE(std::is_sorted(plain.pairs[0].boots[0].runs.begin(),
                             plain.pairs[0].boots[0].runs.end()));
}

TEST(PlannerTest, LongGroupsAreSpreadOverPairs) {
  spec::ExperimentSpec spec;
  spec.matrix.iommu = {v1::IOMMU_MODE_STRICT};
  spec.matrix.workload = {"w"};
  spec.repetitions = 100;
  Plan plan = MakePlan(spec::ExpandMatrix(spec), Options(4, false, false, 0));
  for (const auto& p : plan.pairs) EXPECT_EQ(p.boots.size(), 1u);
  EXPECT_EQ(plan.switches, 4u);
  // Balanced to within one run of perfect, given one boot on every pair.
  absl::Duration total;
  for (const auto& p : plan.pairs) total += p.run_time;
  EXPECT_LE(plan.makespan, (total + absl::Seconds(40) * 4) / 4 + absl::Seconds(16));
  EXPECT_GE(plan.makespan, plan.lower_bound);
}

}  // namespace
}  // namespace iommuvm::planner
