
#include "agent/node/vfio.h"

#include <gtest/gtest.h>

#include "common/file_system.h"
#include "tests/support/fake_command_runner.h"
#include "tests/support/sysroot_builder.h"

namespace iommuvm::agent {
namespace {

using ::iommuvm::testing::FakeCommandRunner;
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

// A guest's VF on a PF without VFs: they are enabled (recorded), VF 0
// gets the guest's MAC through the PF, goes to vfio-pci alone in its
// group, and on release everything is as it was.
TEST_F(VfioTest, AssignsAVfOfTheDataNicAndGivesItBack) {
  b_.Nic("ens1f0", "0000:ca:00.0");
  FakeCommandRunner runner;
  runner.installed = {"ip"};
  Vfio vfio(&sys_, &host_, "/state", "0000:00:1f.6");
  auto vf = vfio.AssignVf("ens1f0", "52:54:a0:00:00:07", &runner);
  ASSERT_TRUE(vf.ok()) << vf.status();
  EXPECT_EQ(vf->bdf, "0000:ca:00.2");
  EXPECT_EQ(vf->index, 0);
  EXPECT_EQ(vf->iommu_group, "40");
  EXPECT_TRUE(vf->created);
  EXPECT_EQ(Read(sys_, "/sys/devices/pci0000:00/0000:ca:00.0/sriov_numvfs"), "1");
  EXPECT_EQ(Read(sys_, "/sys/devices/pci0000:00/0000:ca:00.0/sriov_drivers_autoprobe"), "0");
  EXPECT_EQ(runner.ran,
            (std::vector<std::string>{"ip link set ens1f0 vf 0 mac 52:54:a0:00:00:07"}));
  EXPECT_EQ(Read(sys_, "/sys/devices/pci0000:00/0000:ca:00.2/driver_override"), "vfio-pci");
  EXPECT_EQ(Read(host_, "/state/vfio_created_vfs"), "0000:ca:00.0\n");
  ASSERT_TRUE(vfio.ReleaseVf(*vf).ok());
  EXPECT_EQ(Read(sys_, "/sys/devices/pci0000:00/0000:ca:00.0/sriov_numvfs"), "0");
  EXPECT_EQ(Read(sys_, "/sys/devices/pci0000:00/0000:ca:00.2/driver_override"), "\n");
  EXPECT_EQ(Read(host_, "/state/vfio_created_vfs"), "");
  EXPECT_EQ(Read(host_, "/state/vfio_bindings"), "");
}

// VFs an administrator enabled stay enabled; one already on vfio-pci
// (another guest's) is passed over.
TEST_F(VfioTest, TakesTheFirstFreeOfExistingVfsAndLeavesThemEnabled) {
  b_.Nic("ens1f0", "0000:ca:00.0")
      .File("/sys/devices/pci0000:00/0000:ca:00.0/sriov_numvfs", "2\n")
      .Symlink("/sys/devices/pci0000:00/0000:ca:00.2/driver", "../../../bus/pci/drivers/vfio-pci");
  FakeCommandRunner runner;
  runner.installed = {"ip"};
  Vfio vfio(&sys_, &host_, "/state", "");
  auto vf = vfio.AssignVf("ens1f0", "52:54:a0:00:00:08", &runner);
  ASSERT_TRUE(vf.ok()) << vf.status();
  EXPECT_EQ(vf->bdf, "0000:ca:00.3");
  EXPECT_EQ(vf->index, 1);
  EXPECT_FALSE(vf->created);
  EXPECT_EQ(vf->binding.original_driver, "mlx5_core");
  ASSERT_TRUE(vfio.ReleaseVf(*vf).ok());
  EXPECT_EQ(Read(sys_, "/sys/devices/pci0000:00/0000:ca:00.0/sriov_numvfs"), "2\n");
}

TEST_F(VfioTest, RefusesAVfSharingItsGroupAndANicWithoutSriov) {
  b_.Nic("ens1f0", "0000:ca:00.0")
      .Nic("eno1", "0000:00:1f.6")
      .Device("0000:ca:00.7", "", "40", "DMA");
  FakeCommandRunner runner;
  runner.installed = {"ip"};
  Vfio vfio(&sys_, &host_, "/state", "");
  auto shared = vfio.AssignVf("ens1f0", "52:54:a0:00:00:09", &runner);
  ASSERT_FALSE(shared.ok());
  EXPECT_EQ(shared.status().message(),
            "0000:ca:00.2 shares IOMMU group 40 with 0000:ca:00.7; VFIO would take them all (is "
            "ACS missing on its path? a VF normally has a group of its own)");
  // What it enabled is disabled again, nothing stays recorded or bound.
  EXPECT_EQ(Read(sys_, "/sys/devices/pci0000:00/0000:ca:00.0/sriov_numvfs"), "0");
  EXPECT_EQ(Read(host_, "/state/vfio_created_vfs"), "");
  EXPECT_TRUE(runner.ran.empty());
  auto no_sriov = vfio.AssignVf("eno1", "52:54:a0:00:00:09", &runner);
  ASSERT_FALSE(no_sriov.ok());
  EXPECT_NE(no_sriov.status().message().find("the data NIC eno1 (0000:00:1f.6) offers no SR-IOV"),
            std::string::npos)
      << no_sriov.status();
  EXPECT_EQ(vfio.AssignGivenVf("0000:ca:00.9").status().message().substr(0, 28),
            "no PCI device 0000:ca:00.9 (");
}

// An agent that died with VFs it enabled disables them at its next start.
TEST_F(VfioTest, VfsEnabledBeforeACrashAreDisabledAtStart) {
  b_.Nic("ens1f0", "0000:ca:00.0");
  FakeCommandRunner runner;
  runner.installed = {"ip"};
  {
    Vfio vfio(&sys_, &host_, "/state", "");
    ASSERT_TRUE(vfio.AssignVf("ens1f0", "52:54:a0:00:00:07", &runner).ok());
  }  // "crash"
  Vfio restarted(&sys_, &host_, "/state", "");
  EXPECT_EQ(restarted.RestoreLeftovers().size(), 1u);
  EXPECT_EQ(restarted.DisableLeftoverVfs(), (std::vector<std::string>{"0000:ca:00.0"}));
  EXPECT_EQ(Read(sys_, "/sys/devices/pci0000:00/0000:ca:00.0/sriov_numvfs"), "0");
  EXPECT_TRUE(restarted.DisableLeftoverVfs().empty());
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
