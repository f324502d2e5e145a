#include "agent/vm/vcpu_pinning.h"

#include <gtest/gtest.h>

#include "common/file_system.h"
#include "tests/support/sysroot_builder.h"

namespace iommuvm::agent {
namespace {

// QEMU 7.2's reply for two vCPUs: each CPU's props carry an SMT
// "thread-id" of their own, which is not the host thread.
constexpr char kReply[] =
    R"({"return": [{"thread-id": 24057, "props": {"core-id": 0, "thread-id": 0, "socket-id": 0},)"
    R"( "qom-path": "/machine/unattached/device[0]", "cpu-index": 0, "target": "x86_64"},)"
    R"( {"thread-id": 24058, "props": {"core-id": 1, "thread-id": 0, "socket-id": 0},)"
    R"( "qom-path": "/machine/unattached/device[2]", "cpu-index": 1, "target": "x86_64"}]})";

TEST(VcpuPinningTest, VcpuThreadsComeFromTheTopLevelNotFromProps) {
  auto threads = ParseVcpuThreads(kReply);
  ASSERT_TRUE(threads.ok()) << threads.status();
  EXPECT_EQ(*threads, (std::map<int, int>{{0, 24057}, {1, 24058}}));
  EXPECT_FALSE(ParseVcpuThreads(R"({"return": []})").ok());
}

// The same reply as libvirt 9.0's `virsh qemu-monitor-command` passes it
// on: compact JSON, no space after the colons, its own "id".
TEST(VcpuPinningTest, CompactJsonFromLibvirtReadsTheSame) {
  auto threads = ParseVcpuThreads(
      R"({"return":[{"thread-id":16729,"props":{"core-id":0,"thread-id":0,"socket-id":0},)"
      R"("qom-path":"/machine/unattached/device[0]","cpu-index":0,"target":"x86_64"},)"
      R"({"thread-id":16730,"props":{"core-id":1,"thread-id":0,"socket-id":0},)"
      R"("qom-path":"/machine/unattached/device[2]","cpu-index":1,"target":"x86_64"}],)"
      R"("id":"libvirt-414"})");
  ASSERT_TRUE(threads.ok()) << threads.status();
  EXPECT_EQ(*threads, (std::map<int, int>{{0, 16729}, {1, 16730}}));
}

TEST(VcpuPinningTest, AutoTakesTheDataNicsNumaNodeElseEveryOnlineCpu) {
  testing::SysrootBuilder b;
  b.File("/sys/class/net/eth1/device/numa_node", "1\n")
      .File("/sys/devices/system/node/node1/cpulist", "36-71\n")
      .File("/sys/devices/system/cpu/online", "0-71\n");
  LocalFileSystem fs(b.root());
  auto numa = ResolvePin(fs, "auto", "eth1");
  ASSERT_TRUE(numa.ok()) << numa.status();
  EXPECT_EQ(numa->cpus.front(), 36);
  EXPECT_EQ(numa->cpus.size(), 36u);
  EXPECT_EQ(numa->how, "auto: NUMA node 1 of eth1");
  auto any = ResolvePin(fs, "auto", "veth0");
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->cpus.size(), 72u);
  EXPECT_EQ(any->how, "auto: every online CPU (veth0 has no NUMA node)");
  auto listed = ResolvePin(fs, "2,4-5", "eth1");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->cpus, (std::vector<int>{2, 4, 5}));
}

}  // namespace
}  // namespace iommuvm::agent
