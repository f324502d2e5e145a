// `iommuvm rerun`: exactly the failed, cancelled or unsteady runs of the
// cells asked for are queued again.
#include "controller/scheduler/rerun.h"

#include <gtest/gtest.h>

namespace iommuvm::scheduler {
namespace {

store::RunRecord RunOf(int64_t id, v1::IommuMode mode, const std::string& workload,
                       uint32_t repetition, store::RunState state) {
  store::RunRecord r;
  r.id = id;
  r.point.index = static_cast<uint32_t>(id);
  r.point.iommu = mode;
  r.point.workload = workload;
  r.point.vm = "bare-metal";
  r.point.repetition = repetition;
  r.point.params = {{"clients", id % 2 ? "16" : "64"}};
  r.state = state;
  return r;
}

class RerunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    using S = store::RunState;
    runs_ = {RunOf(1, v1::IOMMU_MODE_STRICT, "redis", 1, S::kSucceeded),
             RunOf(2, v1::IOMMU_MODE_STRICT, "redis", 2, S::kFailed),
             RunOf(3, v1::IOMMU_MODE_LAZY, "redis", 1, S::kCancelled),
             RunOf(4, v1::IOMMU_MODE_LAZY, "nginx", 1, S::kSucceeded),
             RunOf(5, v1::IOMMU_MODE_LAZY, "nginx", 2, S::kActive),
             RunOf(6, v1::IOMMU_MODE_STRICT, "nginx", 1, S::kFailed)};
    for (const auto& r : runs_) {
      store::AttemptRecord a;
      a.id = r.id * 10;
      a.run_id = r.id;
      attempts_[r.id] = a;
    }
    attempts_[4].evidence[store::kUnsteadyKey] = "2 of 8 intervals below 50% of the median";
    for (auto& [id, a] : attempts_) latest_[id] = &a;
  }
  std::vector<int64_t> Select(bool failed, bool unsteady, std::vector<std::string> cells = {}) {
    spec::ExperimentSpec s;
    s.matrix.user_axes = {{"clients", {"16", "64"}}};
    RerunOptions o;
    o.failed = failed;
    o.unsteady = unsteady;
    for (const auto& c : cells) o.cells.push_back(*ParseCell(s, c));
    return SelectRerun(runs_, latest_, o);
  }
  std::vector<store::RunRecord> runs_;
  std::map<int64_t, store::AttemptRecord> attempts_;
  std::map<int64_t, const store::AttemptRecord*> latest_;
};

TEST_F(RerunTest, FailedCancelledAndUnsteadyRunsOnly) {
  // A running run (5) and a steady success (1) are never touched.
  EXPECT_EQ(Select(true, false), (std::vector<int64_t>{2, 3, 6}));
  EXPECT_EQ(Select(false, true), (std::vector<int64_t>{4}));
  EXPECT_EQ(Select(true, true), (std::vector<int64_t>{2, 3, 4, 6}));
}

TEST_F(RerunTest, OnlyTheCellsAskedFor) {
  EXPECT_EQ(Select(true, false, {"iommu=strict"}), (std::vector<int64_t>{2, 6}));
  EXPECT_EQ(Select(true, false, {"iommu=strict,workload=redis"}), (std::vector<int64_t>{2}));
  EXPECT_EQ(Select(true, false, {"iommu=strict,workload=redis", "iommu=lazy"}),
            (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(Select(true, false, {"clients=64"}), (std::vector<int64_t>{2, 6}));
  EXPECT_EQ(Select(true, false, {"repetition=1"}), (std::vector<int64_t>{3, 6}));
}

TEST_F(RerunTest, CellsNameRealAxes) {
  spec::ExperimentSpec s;
  s.matrix.user_axes = {{"clients", {"16"}}};
  auto bad = ParseCell(s, "iommu=strict,colour=red");
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_NE(bad.status().message().find("'colour' is not an axis of this experiment; its axes: "
                                        "iommu, workload, vm, repetition, clients"),
            std::string::npos)
      << bad.status();
  EXPECT_TRUE(absl::IsInvalidArgument(ParseCell(s, "strict").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseCell(s, "").status()));
}

}  // namespace
}  // namespace iommuvm::scheduler
