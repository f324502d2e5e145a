// The node's inventory from /proc and /sys.
#include "agent/node/inventory.h"

#include <gtest/gtest.h>

#include "agent/node/iommu_probe.h"
#include "common/file_system.h"
#include "tests/support/sysroot_builder.h"
#include "tests/unit/agent/node/node_test_support.h"

namespace iommuvm::agent {
namespace {

using ::iommuvm::testing::SysrootBuilder;

TEST(InventoryTest, NicsUnitsAndKernelDefaults) {
  SysrootBuilder b;
  Node(b, "intel_iommu=on", "dmar0", "DMA");
  b.File("/proc/sys/kernel/osrelease", "6.1.0-26-amd64\n")
      .File("/boot/config-6.1.0-26-amd64",
            "CONFIG_IOMMU_DEFAULT_DMA_LAZY=y\nCONFIG_INTEL_IOMMU_DEFAULT_ON=y\n")
      .File("/sys/devices/system/node/node0/cpulist", "0-31\n")
      .File("/sys/devices/system/node/node1/cpulist", "32-63\n")
      .File("/sys/devices/pci0000:00/0000:ca:00.0/sriov_totalvfs", "8\n")
      .File("/proc/cpuinfo",
            "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\n"
            "processor\t: 1\n");
  LocalFileSystem fs(b.root());
  v1::Inventory inv = CollectInventory(fs);
  EXPECT_EQ(inv.kernel_iommu_default(), "lazy");
  EXPECT_TRUE(inv.intel_iommu_default_on());
  EXPECT_EQ(inv.numa_nodes(), 2u);
  EXPECT_EQ(inv.cpu_vendor(), "GenuineIntel");
  EXPECT_EQ(inv.cpu_cores(), 2u);
  ASSERT_EQ(inv.iommu_units_size(), 1);
  ASSERT_EQ(inv.nics_size(), 1);  // lo is not hardware
  EXPECT_EQ(inv.nics(0).name(), "enp202s0f0np0");
  EXPECT_EQ(inv.nics(0).driver(), "mlx5_core");
  EXPECT_EQ(inv.nics(0).iommu_group(), "14");
  EXPECT_EQ(inv.nics(0).sriov_totalvfs(), 8u);
  EXPECT_EQ(inv.nics(0).speed_mbps(), 100000);
  EXPECT_EQ(inv.nics(0).numa_node(), 0);
}

// Nested translation's host side: /dev/iommu, and ECAP.NEST (bit 26) with
// ECAP.SMTS (bit 43) on every DMAR unit. QEMU's emulated VT-d (f00f4a, as
// captured from Debian's 6.1 guest) has neither.
TEST(InventoryTest, NestingNeedsNestAndScalableModeOnEveryUnit) {
  SysrootBuilder b;
  Node(b, "intel_iommu=on", "dmar0", "DMA");
  b.Unit("dmar1")
      .File("/sys/devices/virtual/iommu/dmar0/intel-iommu/ecap", "80004f00f4a\n")
      .File("/sys/devices/virtual/iommu/dmar1/intel-iommu/ecap", "80004f00f4a\n")
      .File("/dev/iommu", "");
  LocalFileSystem fs(b.root());
  v1::Inventory inv = CollectInventory(fs);
  EXPECT_TRUE(inv.vtd_nesting());
  EXPECT_TRUE(inv.iommufd());
  b.File("/sys/devices/virtual/iommu/dmar1/intel-iommu/ecap", "f00f4a\n");  // QEMU's
  EXPECT_FALSE(CollectInventory(fs).vtd_nesting());
  b.File("/sys/devices/virtual/iommu/dmar0/intel-iommu/ecap", "4f00f4a\n");  // NEST, no SMTS
  b.File("/sys/devices/virtual/iommu/dmar1/intel-iommu/ecap", "4f00f4a\n");
  EXPECT_FALSE(CollectInventory(fs).vtd_nesting());
}

}  // namespace
}  // namespace iommuvm::agent
