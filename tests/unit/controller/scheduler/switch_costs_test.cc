// Switch costs from measured switches: per method, the median on the
// experiment's own nodes, else on every node, else the planner's default.
#include "controller/scheduler/switch_costs.h"

#include <gtest/gtest.h>

#include "planner/planner.h"

namespace iommuvm::scheduler {
namespace {

TEST(SwitchCostsTest, MedianOfTheNodesOwnElseEveryonesElseTheDefault) {
  std::vector<store::SwitchTime> times = {
      {"r650-1", "kexec", absl::Seconds(20)},       {"r650-1", "kexec", absl::Seconds(22)},
      {"r650-1", "kexec", absl::Seconds(90)},       {"r650-2", "kexec", absl::Seconds(30)},
      {"r650-2", "sysfs", absl::Milliseconds(300)}, {"r650-1", "sim-kexec", absl::Seconds(1)}};
  auto mine = SwitchCostsFor(times, {"r650-1"});
  EXPECT_EQ(mine.at("kexec"), absl::Seconds(22));        // median of 20, 22, 90
  EXPECT_EQ(mine.at("sysfs"), absl::Milliseconds(300));  // only r650-2 has switched by sysfs
  EXPECT_EQ(mine.at("grub"), planner::DefaultSwitchCosts().at("grub"));  // nobody has
  EXPECT_EQ(SwitchCostsFor(times, {"r650-2"}).at("kexec"), absl::Seconds(30));
  EXPECT_EQ(SwitchCostsFor(times, {"r650-1", "r650-2"}).at("kexec"), absl::Seconds(26));
  EXPECT_EQ(SwitchCostsFor({}, {}), planner::DefaultSwitchCosts());

  auto of = SwitchesOf(times, "r650-1");
  ASSERT_EQ(of.size(), 2u);
  EXPECT_EQ(of.at("kexec").median, absl::Seconds(22));
  EXPECT_EQ(of.at("kexec").count, 3u);
  EXPECT_EQ(of.at("sim-kexec").count, 1u);
}

}  // namespace
}  // namespace iommuvm::scheduler
