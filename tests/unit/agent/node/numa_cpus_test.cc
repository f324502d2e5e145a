// Which CPUs "auto" means: the data NIC's NUMA node, else every online CPU.
#include "agent/node/numa_cpus.h"

#include <gtest/gtest.h>

#include "common/cpu_list.h"
#include "common/file_system.h"
#include "tests/support/sysroot_builder.h"

namespace iommuvm::agent {
namespace {

TEST(NumaCpusTest, AutoTakesTheDataNicsNumaNodeElseEveryOnlineCpu) {
  testing::SysrootBuilder b;
  b.File("/sys/class/net/eth1/device/numa_node", "1\n")
      .File("/sys/devices/system/node/node1/cpulist", "36-71\n")
      .File("/sys/devices/system/cpu/online", "0-71\n");
  LocalFileSystem fs(b.root());
  auto numa = ResolveCpus(fs, "auto", "eth1");
  ASSERT_TRUE(numa.ok()) << numa.status();
  EXPECT_EQ(numa->cpus.front(), 36);
  EXPECT_EQ(numa->cpus.size(), 36u);
  EXPECT_EQ(numa->how, "auto: NUMA node 1 of eth1");
  auto any = ResolveCpus(fs, "auto", "veth0");
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->cpus.size(), 72u);
  EXPECT_EQ(any->how, "auto: every online CPU (veth0 has no NUMA node)");
  auto listed = ResolveCpus(fs, "2,4-5", "eth1");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->cpus, (std::vector<int>{2, 4, 5}));
  // auto:N: the first N of the NIC's node (a server's cores).
  auto four = ResolveCpus(fs, "auto:4", "eth1");
  ASSERT_TRUE(four.ok()) << four.status();
  EXPECT_EQ(four->cpus, (std::vector<int>{36, 37, 38, 39}));
  EXPECT_EQ(four->how, "auto: 4 CPUs of NUMA node 1 of eth1");
  EXPECT_EQ(FormatCpuList(four->cpus), "36-39");
  EXPECT_EQ(FormatCpuList({0, 2, 3, 4, 9}), "0,2-4,9");
  EXPECT_FALSE(ResolveCpus(fs, "auto:100", "eth1").ok());  // more than the node has
}

}  // namespace
}  // namespace iommuvm::agent
