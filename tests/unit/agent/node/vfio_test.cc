
#include "agent/node/vfio.h"

#include <gtest/gtest.h>

#include "common/file_system.h"
#include "tests/support/sysroot_builder.h"

namespace iommuvm::agent {
namespace {

using ::iommuvm::testing::SysrootBuilder;

std::string Read(const FileSystem& fs, const std::string& path) {
  auto s = fs.ReadFile(path);
  return s.ok() ? *s : "<missing>";
}

// A ConnectX-6 PF with 8 possible VFs (the kernel's virtfn links for two of
// them already in place), vfio-pci loaded, and the control NIC (e1000e)
// sharing group 9 with another device.
class VfioTest : public ::testing::Test {
 protected:
  void SetUp() override {
    b_.Device("0000:ca:00.0", "mlx5_core", "14", "DMA")
        .File("/sys/devices/pci0000:00/0000:ca:00.0/sriov_totalvfs", "8\n")
        .File("/sys/devices/pci0000:00/0000:ca:00.0/sriov_numvfs", "0\n")
        .File("/sys/devices/pci0000:00/0000:ca:00.0/sriov_drivers_autoprobe", "1\n")
        .Device("0000:ca:00.2", "", "40", "DMA")
        .Device("0000:ca:00.3", "mlx5_core", "41", "DMA")
        .Symlink("/sys/devices/pci0000:00/0000:ca:00.0/virtfn0", "../0000:ca:00.2")
        .Symlink("/sys/devices/pci0000:00/0000:ca:00.0/virtfn1", "../0000:ca:00.3")
        .File("/sys/bus/pci/drivers/vfio-pci/bind", "")
        .Device("0000:00:1f.6", "e1000e", "9", "DMA")
        .Device("0000:00:1f.5", "", "9", "DMA");
  }
  SysrootBuilder b_;
  SysrootBuilder state_;
  LocalFileSystem sys_{b_.root()};
  LocalFileSystem host_{state_.root()};
};

TEST_F(VfioTest, CreatesVfsWithoutAutoprobe) {
  Vfio vfio(&sys_, &host_, "/state", "0000:00:1f.6");
  auto vfs = vfio.CreateVfs("0000:ca:00.0", 2, /*autoprobe=*/false);
  ASSERT_TRUE(vfs.ok()) << vfs.status();
  EXPECT_EQ(*vfs, (std::vector<std::string>{"0000:ca:00.2", "0000:ca:00.3"}));
  EXPECT_EQ(Read(sys_, "/sys/devices/pci0000:00/0000:ca:00.0/sriov_drivers_autoprobe"), "0");
  EXPECT_EQ(Read(sys_, "/sys/devices/pci0000:00/0000:ca:00.0/sriov_numvfs"), "2");
  EXPECT_EQ(vfio.CreateVfs("0000:ca:00.0", 9, false).status().message(),
            "0000:ca:00.0 offers at most 8 VFs, 9 requested");
  EXPECT_EQ(vfio.CreateVfs("0000:00:1f.6", 1, false).status().message(),
            "0000:00:1f.6 does not support SR-IOV (no sriov_totalvfs)");
  // Three VFs: the kernel made only two links here, which must be an error.
  EXPECT_NE(
      vfio.CreateVfs("0000:ca:00.0", 3, false).status().message().find("virtfn2 does not exist"),
      std::string::npos);
}

TEST_F(VfioTest, BindsToVfioAndRestoresTheOriginalDriver) {
  Vfio vfio(&sys_, &host_, "/state", "0000:00:1f.6");
  auto b = vfio.BindToVfio("0000:ca:00.3");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->original_driver, "mlx5_core");
  EXPECT_EQ(Read(sys_, "/sys/devices/pci0000:00/0000:ca:00.3/driver_override"), "vfio-pci");
  EXPECT_EQ(Read(sys_, "/sys/bus/pci/drivers/mlx5_core/unbind"), "0000:ca:00.3");
  EXPECT_EQ(Read(sys_, "/sys/bus/pci/drivers_probe"), "0000:ca:00.3");
  EXPECT_EQ(Read(host_, "/state/vfio_bindings"), "0000:ca:00.3 mlx5_core\n");
  // The kernel would now show vfio-pci as its driver.
  b_.Symlink("/sys/devices/pci0000:00/0000:ca:00.3/driver", "../../../bus/pci/drivers/vfio-pci");
  ASSERT_TRUE(vfio.Restore(*b).ok());
  EXPECT_EQ(Read(sys_, "/sys/devices/pci0000:00/0000:ca:00.3/driver_override"), "\n");
  EXPECT_EQ(Read(sys_, "/sys/bus/pci/drivers/vfio-pci/unbind"), "0000:ca:00.3");
  EXPECT_EQ(Read(host_, "/state/vfio_bindings"), "");
}

// An agent that died with a device on vfio-pci gives it back at start.
TEST_F(VfioTest, LeftoversAreRestoredAfterACrash) {
  {
    Vfio vfio(&sys_, &host_, "/state", "");
    ASSERT_TRUE(vfio.BindToVfio("0000:ca:00.3").ok());
  }  // "crash": nothing restored
  Vfio restarted(&sys_, &host_, "/state", "");
  auto left = restarted.RestoreLeftovers();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].bdf, "0000:ca:00.3");
  EXPECT_EQ(Read(sys_, "/sys/devices/pci0000:00/0000:ca:00.3/driver_override"), "\n");
  EXPECT_TRUE(restarted.RestoreLeftovers().empty());
}

TEST_F(VfioTest, RefusesTheControlNicAndItsGroup) {
  Vfio vfio(&sys_, &host_, "/state", "0000:00:1f.6");
  EXPECT_EQ(vfio.BindToVfio("0000:00:1f.6").status().message(),
            "0000:00:1f.6 is this agent's control-network NIC; taking it away would cut the "
            "agent off");
  EXPECT_EQ(vfio.BindToVfio("0000:00:1f.5").status().message(),
            "0000:00:1f.5 shares IOMMU group 9 with the control-network NIC 0000:00:1f.6; VFIO "
            "would take the whole group");
  EXPECT_EQ(Read(sys_, "/sys/devices/pci0000:00/0000:00:1f.6/driver_override"), "<missing>");
}

TEST_F(VfioTest, NeedsVfioPciLoaded) {
  SysrootBuilder bare;
  bare.Device("0000:ca:00.2", "", "40", "DMA");
  LocalFileSystem fs(bare.root());
  Vfio vfio(&fs, &host_, "/state", "");
  EXPECT_EQ(vfio.BindToVfio("0000:ca:00.2").status().message(),
            "vfio-pci is not loaded; run 'modprobe vfio-pci'");
}

}  // namespace
}  // namespace iommuvm::agent
