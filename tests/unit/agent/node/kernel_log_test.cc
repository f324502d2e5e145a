// The kernel log from dmesg and /dev/kmsg records.
#include "agent/node/kernel_log.h"

#include <gtest/gtest.h>

#include "agent/node/inventory.h"
#include "agent/node/iommu_probe.h"
#include "common/file_system.h"
#include "tests/support/sysroot_builder.h"
#include "tests/unit/agent/node/node_test_support.h"

namespace iommuvm::agent {
namespace {

using ::iommuvm::testing::SysrootBuilder;

TEST(KernelLogTest, ParsesDmesgAndKmsgRecords) {
  KernelLogFacts f = ParseKernelLog(
      "6,512,1401073,-;iommu: Default domain type: Passthrough (set via kernel command line)\n"
      "6,600,1765340,-;DMAR: IOMMU batching disallowed due to virtualization\n"
      "[    0.1] unrelated line\n");
  EXPECT_EQ(f.default_domain, "Passthrough");
  EXPECT_TRUE(f.batching_disallowed);
  EXPECT_EQ(f.lines.size(), 2u);
  EXPECT_EQ(f.lines[0], "iommu: Default domain type: Passthrough (set via kernel command line)");
}

}  // namespace
}  // namespace iommuvm::agent
