
#include "planner/planner.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "iommu/mode_names.h"
#include "spec/kernel_axis.h"
#include "spec/matrix.h"
#include "spec/spec_parser.h"

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
  for (uint32_t i = 0; i <= rng() % 4; ++i)
    spec->matrix.workload.push_back("w" + std::to_string(i));
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
      bool seen_off = false;
      for (const auto& b : p.boots) {
        // Once a pair is in `off` it stays there (leaving off needs a reboot).
        if (seen_off) {
          EXPECT_EQ(b.mode, v1::IOMMU_MODE_OFF);
        }
        seen_off = seen_off || b.mode == v1::IOMMU_MODE_OFF;
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
    // When a switch costs more than all runs together, the makespan is
    // the busiest pair's switches: no pair switches more than the fewest
    // possible, ceil(groups / pairs). (Idle pairs may still take a share
    // of a config: their switch runs in parallel.)
    PlanOptions costly = Options(pairs, across, true, trial);
    costly.switch_cost = absl::Hours(100);
    for (const auto& p : MakePlan(runs, costly).pairs) {
      EXPECT_LE(p.switches, (groups + pairs - 1) / pairs);
    }
    // Never worse than running everything on one pair.
    EXPECT_LE(plan.makespan, single.makespan);
  }
}

// 4 boot configs of 100 s each on 3 pairs, 60 s a switch: no split gives
// 320 s (one pair runs two configs); one split 270 s; splitting one config
// three ways 253.3 s, the optimum (6 switches, (400 + 360) / 3).
TEST(PlannerTest, FewerBootGroupsThanPairsAreSplitWell) {
  spec::ExperimentSpec spec;
  spec.matrix.iommu = {v1::IOMMU_MODE_OFF, v1::IOMMU_MODE_PASSTHROUGH, v1::IOMMU_MODE_LAZY,
                       v1::IOMMU_MODE_STRICT};
  spec.matrix.workload = {"w"};
  spec.repetitions = 100;  // 100 runs of 1 s per config
  PlanOptions o;
  o.order.repetitions_across_boots = false;  // one boot per config
  o.pairs = 3;
  o.switch_cost = absl::Seconds(60);
  o.run_time = [](const spec::RunPoint&) { return absl::Seconds(1); };
  Plan plan = MakePlan(spec::ExpandMatrix(spec), o);
  EXPECT_LE(plan.makespan, absl::Seconds(256)) << absl::FormatDuration(plan.makespan);
  EXPECT_GE(plan.makespan, plan.lower_bound);
}

// The exact optimum of the planner's objective for small matrices: every
// assignment of runs to pairs, each pair paying one switch per boot config
// it runs plus its run time; the makespan is the busiest pair.
absl::Duration OptimalMakespan(const std::vector<spec::RunPoint>& runs, const PlanOptions& o) {
  size_t n = runs.size();
  std::vector<uint32_t> pair_of(n, 0);
  absl::Duration best = absl::InfiniteDuration();
  while (true) {
    std::vector<absl::Duration> load(o.pairs);
    std::vector<std::set<int>> configs(o.pairs);
    for (size_t r = 0; r < n; ++r) {
      load[pair_of[r]] += o.run_time(runs[r]);
      configs[pair_of[r]].insert(static_cast<int>(runs[r].iommu));
    }
    absl::Duration makespan;
    for (uint32_t p = 0; p < o.pairs; ++p) {
      makespan =
          std::max(makespan, load[p] + o.switch_cost * static_cast<int64_t>(configs[p].size()));
    }
    best = std::min(best, makespan);
    size_t i = 0;  // next assignment, counting in base `pairs`
    while (i < n && ++pair_of[i] == o.pairs) pair_of[i++] = 0;
    if (i == n) break;
  }
  return best;
}

// Against the exact optimum, on 300 random small matrices: never more than
// 10% above it.
TEST(PlannerTest, WithinTenPercentOfTheOptimumOnSmallMatrices) {
  std::mt19937 rng(2026);
  const v1::IommuMode modes[] = {v1::IOMMU_MODE_OFF, v1::IOMMU_MODE_PASSTHROUGH,
                                 v1::IOMMU_MODE_LAZY, v1::IOMMU_MODE_STRICT};
  double worst = 1.0;
  int checked = 0;
  for (int trial = 0; checked < 300 && trial < 3000; ++trial) {
    spec::ExperimentSpec spec;
    spec.matrix.iommu.assign(modes, modes + 1 + rng() % 4);
    spec.matrix.vm = {"bare-metal"};
    spec.matrix.workload = {"w0"};
    if (rng() % 2) spec.matrix.workload.push_back("w1");
    spec.repetitions = 1 + rng() % 3;
    auto runs = spec::ExpandMatrix(spec);
    if (runs.size() > 9) continue;  // 3^9 assignments at most
    PlanOptions o;
    o.pairs = 2 + rng() % 2;
    o.order.repetitions_across_boots = false;
    o.switch_cost = absl::Seconds(rng() % 60);
    for (v1::IommuMode m : modes) o.switch_kinds[m] = {"kexec", o.switch_cost};
    std::vector<int> secs = {5 + static_cast<int>(rng() % 60), 5 + static_cast<int>(rng() % 60)};
    o.run_time = [secs](const spec::RunPoint& r) {
      return absl::Seconds(secs[r.workload == "w1"]);
    };
    Plan plan = MakePlan(runs, o);
    absl::Duration optimum = OptimalMakespan(runs, o);
    ASSERT_GE(plan.makespan, optimum) << "the optimum is a lower bound";
    double ratio = absl::FDivDuration(plan.makespan, optimum);
    worst = std::max(worst, ratio);
    EXPECT_LE(ratio, 1.10) << runs.size() << " runs, " << o.pairs << " pairs, switch "
                           << absl::FormatDuration(o.switch_cost) << ": plan "
                           << absl::FormatDuration(plan.makespan) << ", optimum "
                           << absl::FormatDuration(optimum);
    ++checked;
  }
  EXPECT_EQ(checked, 300);
  RecordProperty("worst_ratio", std::to_string(worst));
}

// Every example in experiments/ validates, expands and plans on 2 pairs
// with every run scheduled exactly once.
TEST(PlannerTest, ExampleSpecsPlan) {
  for (const char* name : {"quickstart", "r650-full", "c6525-full", "network-path"}) {
    std::ifstream in(std::string(IOMMUVM_SOURCE_DIR "/experiments/") + name + ".yaml");
    std::stringstream text;
    text << in.rdbuf();
    spec::ParseResult parsed = spec::ParseSpec(text.str());
    ASSERT_TRUE(parsed.spec) << name << ": " << parsed.errors[0].Format(name);
    auto runs = spec::ExpandMatrix(*parsed.spec);
    PlanOptions o;
    o.pairs = 2;
    o.order = parsed.spec->order;
    o.run_time = EstimateFromSpec(*parsed.spec);
    Plan plan = MakePlan(runs, o);
    std::vector<int> seen(runs.size());
    for (const auto& p : plan.pairs) {
      for (const auto& b : p.boots) {
        for (uint32_t r : b.runs) ++seen[r];
      }
    }
    for (int n : seen) EXPECT_EQ(n, 1) << name;
    EXPECT_GE(plan.makespan, plan.lower_bound) << name;
  }
  // r650-full: 4 modes x 3 workloads x 3 VMs, minus all but one host mode
  // (strict) for the VF VM, x 5.
  std::ifstream in(IOMMUVM_SOURCE_DIR "/experiments/r650-full.yaml");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(spec::ExpandMatrix(*spec::ParseSpec(text.str()).spec).size(), (36u - 9u) * 5u);
}

TEST(PlannerTest, VmConfigsAreGroupedWithinABoot) {
  spec::ExperimentSpec spec;
  spec.matrix.iommu = {v1::IOMMU_MODE_STRICT};
  spec.matrix.vm = {"bare-metal", "a", "b"};
  spec.matrix.workload = {"w1", "w2", "w3"};
  spec.repetitions = 3;
  auto runs = spec::ExpandMatrix(spec);
  Plan plan = MakePlan(runs, Options(1, false, true, 7));
  EXPECT_EQ(plan.switches, 1u);
  // Within the boot each VM config's runs are together (a, then b, once
  // each) ...
  uint32_t vm_changes = 0;
  std::string last = "bare-metal";
  for (const Boot& boot : plan.pairs[0].boots) {
    for (uint32_t r : boot.runs) {
      if (runs[r].vm != "bare-metal" && runs[r].vm != last) ++vm_changes;
      last = runs[r].vm;
    }
  }
  EXPECT_EQ(vm_changes, 2u);
  // ... so each guest is launched once and serves all its runs.
  EXPECT_EQ(plan.pairs[0].vm_launches, 2u);
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
  EXPECT_TRUE(
      std::is_sorted(plain.pairs[0].boots[0].runs.begin(), plain.pairs[0].boots[0].runs.end()));
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

namespace iommuvm::planner {
namespace {

// The kernel axis: (kernel, mode) is the boot config. One pair boots each
// kernel's modes back to back, never by sysfs (another kernel is not
// reached in place), and the plan says which kernel each boot runs.
TEST(PlannerTest, KernelAxisGroupsBootsByKernelAndRebootsForThem) {
  auto parsed = spec::ParseSpec(R"(name: k
matrix:
  kernel: [stock, 6.12.9-fns]
  iommu: [strict, off, lazy]
  workload: [w]
workloads:
  w: {app: redis, generator: {requests: 1000}}
repetitions: 2
switch: {method: sysfs, fallback: [kexec]}
order: {repetitions_across_boots: false}
)");
  ASSERT_TRUE(parsed.spec) << parsed.errors[0].message;
  auto runs = spec::ExpandMatrix(*parsed.spec);
  ASSERT_EQ(runs.size(), 12u);
  PlanOptions options = OptionsForSpec(*parsed.spec, 1, DefaultSwitchCosts());
  Plan plan = MakePlan(runs, options);
  EXPECT_EQ(plan.boot_groups, 6u);
  const auto& boots = plan.pairs[0].boots;
  ASSERT_EQ(boots.size(), 6u);
  std::vector<std::string> order;
  for (const Boot& b : boots) {
    order.push_back(b.kernel + "/" + iommu::IommuModeName(b.mode));
    for (uint32_t r : b.runs) {
      EXPECT_EQ(spec::KernelOf(runs[r]), b.kernel);
      EXPECT_EQ(runs[r].iommu, b.mode);
    }
    EXPECT_EQ(SwitchTo(options, b.mode, b.kernel).method, "kexec");
  }
  // Each kernel's boots adjacent, `off` last within it.
  EXPECT_EQ(order,
            (std::vector<std::string>{"6.12.9-fns/lazy", "6.12.9-fns/strict", "6.12.9-fns/off",
                                      "stock/lazy", "stock/strict", "stock/off"}));
  EXPECT_EQ(plan.pairs[0].switches_by_method.at("kexec"), 6u);
  // Without a kernel, sysfs stays the method for a mode change.
  EXPECT_EQ(SwitchTo(options, v1::IOMMU_MODE_LAZY).method, "sysfs");
}

}  // namespace
}  // namespace iommuvm::planner
