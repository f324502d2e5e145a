// The per-experiment plan queue.
#include "controller/scheduler/plan_queue.h"

#include <gtest/gtest.h>

#include "controller/scheduler/pairing.h"

namespace iommuvm::scheduler {
namespace {

// A pair already booted in a mode gets the planned sequence starting there.
TEST(PlanQueueTest, PairsKeepTheModeTheyAreBootedIn) {
  spec::ExperimentSpec spec;
  spec.workloads["w"].app = "redis";
  spec.workloads["w"].generator.tool = "redis-benchmark";
  spec.workloads["w"].generator.requests = 1000;
  std::vector<PendingRun> pending;
  for (v1::IommuMode mode : {v1::IOMMU_MODE_OFF, v1::IOMMU_MODE_STRICT}) {
    for (int i = 0; i < 3; ++i) {
      PendingRun p;
      p.attempt_id = static_cast<int64_t>(pending.size()) + 100;
      p.point.iommu = mode;
      p.point.workload = "w";
      p.point.vm = "bare-metal";
      pending.push_back(p);
    }
  }
  NodePair a{"a", "a"}, b{"b", "b"};
  PlanQueue q;
  q.Replan(spec, pending, {a, b},
           {{a, {v1::IOMMU_MODE_STRICT, ""}}, {b, {v1::IOMMU_MODE_OFF, ""}}});
  ASSERT_TRUE(q.valid());
  EXPECT_EQ(q.Queued(), 6u);
  EXPECT_EQ(q.Queued(a), 3u);
  EXPECT_GE(*q.Next(a), 103);  // strict runs are attempts 103-105
  EXPECT_LT(*q.Next(b), 103);
  q.Pop(a);
  EXPECT_EQ(q.Queued(a), 2u);
  q.Invalidate();
  EXPECT_FALSE(q.valid());
}

// The kernel axis: a pair whose server runs one of the axis's kernels in
// the mode of a sequence's first boot starts with that sequence.
TEST(PlanQueueTest, PairsKeepTheKernelTheyAreBootedIn) {
  spec::ExperimentSpec spec;
  spec.workloads["w"].app = "redis";
  spec.workloads["w"].generator.tool = "redis-benchmark";
  spec.workloads["w"].generator.requests = 1000;
  spec.matrix.kernel = {"stock", "6.12.9-fns"};
  spec.switch_method.method = "kexec";
  std::vector<PendingRun> pending;
  for (const std::string kernel : {"stock", "6.12.9-fns"}) {
    for (int i = 0; i < 3; ++i) {
      PendingRun p;
      p.attempt_id = static_cast<int64_t>(pending.size()) + 100;
      p.point.iommu = v1::IOMMU_MODE_STRICT;
      p.point.workload = "w";
      p.point.vm = "bare-metal";
      p.point.params["kernel"] = kernel;
      pending.push_back(p);
    }
  }
  NodePair a{"a", "a"}, b{"b", "b"};
  for (const std::string kernel : {"stock", "6.12.9-fns"}) {
    PlanQueue q;
    q.Replan(spec, pending, {a, b},
             {{a, {v1::IOMMU_MODE_STRICT, kernel}}, {b, {v1::IOMMU_MODE_STRICT, ""}}});
    ASSERT_EQ(q.Queued(a), 3u);
    // stock runs are attempts 100-102, 6.12.9-fns runs 103-105.
    EXPECT_EQ(*q.Next(a) >= 103, kernel == "6.12.9-fns") << kernel;
  }
}

}  // namespace
}  // namespace iommuvm::scheduler
