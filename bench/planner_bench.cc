// Expanding and planning a 100,000-run matrix over 32 pairs (the issue's
// target: under 1 s), side by side with expansion alone as the baseline.
// Run: build/bench/iommuvm_planner_bench
#include <benchmark/benchmark.h>

#include "planner/planner.h"
#include "spec/matrix.h"

namespace iommuvm {
namespace {

// 4 modes x 3 VMs x 25 workloads x 2 user-axis values x 167 repetitions ~ 100k runs.
spec::ExperimentSpec BigSpec() {
  spec::ExperimentSpec s;
  s.matrix.iommu = {v1::IOMMU_MODE_OFF, v1::IOMMU_MODE_PASSTHROUGH, v1::IOMMU_MODE_LAZY,
                    v1::IOMMU_MODE_STRICT};
  s.matrix.vm = {"bare-metal", "vm-a", "vm-b"};
  for (int i = 0; i < 25; ++i) {
    std::string name = "w" + std::to_string(i);
    s.matrix.workload.push_back(name);
    s.workloads[name].app = "redis";
    s.workloads[name].generator.tool = "redis-benchmark";
  }
  s.matrix.user_axes = {{"clients", {"16", "256"}}};
  s.repetitions = 167;
  s.order.randomize = true;
  s.order.seed = 1;
  return s;
}

void BM_ExpandOnly(benchmark::State& state) {
  spec::ExperimentSpec s = BigSpec();
  for (auto _ : state) benchmark::DoNotOptimize(spec::ExpandMatrix(s));
  state.counters["runs"] = static_cast<double>(spec::ExpandMatrix(s).size());
}
BENCHMARK(BM_ExpandOnly)->Unit(benchmark::kMillisecond);

void BM_ExpandAndPlan32Pairs(benchmark::State& state) {
  spec::ExperimentSpec s = BigSpec();
  planner::PlanOptions options;
  options.pairs = 32;
  options.order = s.order;
  options.run_time = [](const spec::RunPoint& r) { return absl::Seconds(30 + r.index % 11); };
  for (auto _ : state) {
    auto runs = spec::ExpandMatrix(s);
    benchmark::DoNotOptimize(planner::MakePlan(runs, options));
  }
}
BENCHMARK(BM_ExpandAndPlan32Pairs)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace iommuvm

BENCHMARK_MAIN();
