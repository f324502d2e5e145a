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

}  // namespace
}  // namespace iommuvm::agent
