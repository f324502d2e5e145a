// The client's own limits: how busy its generator was and how full its link.
#include "agent/workload/load_limits.h"

#include <gtest/gtest.h>

#include "common/command_runner.h"
#include "tests/support/sysroot_builder.h"

namespace iommuvm::agent {
namespace {

TEST(LoadLimitsTest, BusyAndUtilizationShares) {
  EXPECT_DOUBLE_EQ(GeneratorBusy(3.8, 2.0, 2), 0.95);
  EXPECT_DOUBLE_EQ(GeneratorBusy(9, 2.0, 2), 1.0);  // clamped
  EXPECT_DOUBLE_EQ(GeneratorBusy(1, 0, 2), 0);
  // 10 Gbit/s link, 1.25 GB in 1 s one way: full; the other way is idle.
  EXPECT_DOUBLE_EQ(LinkUtilization(1250000000, 1000, 1.0, 10000), 1.0);
  EXPECT_DOUBLE_EQ(LinkUtilization(1000, 625000000, 1.0, 10000), 0.5);
}

TEST(LoadLimitsTest, LinkSpeedFromSysfsUnlessTheDriverDoesNotSay) {
  testing::SysrootBuilder root;
  root.File("/sys/class/net/eth1/speed", "100000\n");
  root.File("/sys/class/net/eth2/speed", "-1\n");
  LocalFileSystem fs(root.root());
  EXPECT_EQ(LinkSpeedMbps(fs, "eth1").value_or(0), 100000);
  EXPECT_FALSE(LinkSpeedMbps(fs, "eth2").has_value());
  EXPECT_FALSE(LinkSpeedMbps(fs, "lo").has_value());
}

TEST(LoadLimitsTest, ChildCpuCountsAFinishedChild) {
  double before = ChildCpuSeconds();
  LocalCommandRunner runner;
  CommandSpec spec;
  // About 0.2 s of CPU in a child.
  spec.argv = {"sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"};
  auto r = runner.Run(spec);
  ASSERT_TRUE(r.ok() && r->ok());
  EXPECT_GT(ChildCpuSeconds() - before, 0.05);
}

}  // namespace
}  // namespace iommuvm::agent
