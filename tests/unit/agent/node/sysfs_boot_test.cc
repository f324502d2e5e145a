// Switching the NIC group's type through sysfs in place; off and old
// kernels are refused so another method is used.
#include "agent/node/sysfs_boot.h"

#include <gtest/gtest.h>

#include "agent/node/boot_configurator.h"
#include "agent/node/grub_boot.h"
#include "agent/node/iommu_probe.h"
#include "agent/node/sim_node.h"
#include "common/file_system.h"
#include "tests/support/fake_command_runner.h"
#include "tests/support/sysroot_builder.h"
#include "tests/unit/agent/node/node_test_support.h"

namespace iommuvm::agent {
namespace {

using ::iommuvm::testing::FakeCommandRunner;
using ::iommuvm::testing::SysrootBuilder;

// A ConnectX-6 port (two functions in group 14) retyped in place.
TEST(SysfsBootTest, UnbindsRetypesAndRebindsTheNicGroup) {
  SysrootBuilder b;
  b.Cmdline("intel_iommu=on iommu.strict=1")
      .Unit("dmar0")
      .File("/proc/sys/kernel/osrelease", "6.1.0-26-amd64\n")
      .Device("0000:00:00.0", "", "0", "DMA")
      .Device("0000:ca:00.0", "mlx5_core", "14", "DMA")
      .Device("0000:ca:00.1", "mlx5_core", "14", "DMA")
      .Nic("enp202s0f0np0", "0000:ca:00.0");
  LocalFileSystem fs(b.root());
  FakeCommandRunner runner;
  BootTarget t = Target(v1::IOMMU_MODE_PASSTHROUGH, "");
  t.data_nic = "enp202s0f0np0";
  auto sysfs = ChooseBootConfigurator({"sysfs", "kexec"}, t, &fs, &runner, {});
  ASSERT_TRUE(sysfs.ok()) << sysfs.status();
  EXPECT_EQ((*sysfs)->method(), "sysfs");
  auto outcome = (*sysfs)->Apply(t);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, SwitchOutcome::kSwitchedInPlace);
  EXPECT_EQ(Read(fs, "/sys/kernel/iommu_groups/14/type"), "identity");
  EXPECT_EQ(Read(fs, "/sys/kernel/iommu_groups/0/type"), "DMA\n");  // untouched
  // Both functions were unbound and bound back (the last one written wins).
  EXPECT_EQ(Read(fs, "/sys/bus/pci/drivers/mlx5_core/unbind"), "0000:ca:00.1");
  EXPECT_EQ(Read(fs, "/sys/bus/pci/drivers/mlx5_core/bind"), "0000:ca:00.1");
  IommuProbe p = ProbeIommu(fs, "", false, "enp202s0f0np0");
  EXPECT_EQ(p.detected, "mixed");
  EXPECT_EQ(CheckMode(p, v1::IOMMU_MODE_PASSTHROUGH), "");
  EXPECT_TRUE(runner.ran.empty());
}

TEST(SysfsBootTest, RefusesOffOldKernelsAndFallsBack) {
  SysrootBuilder b;
  b.Cmdline("intel_iommu=on")
      .Unit("dmar0")
      .File("/proc/sys/kernel/osrelease", "5.12.0\n")
      .Device("0000:ca:00.0", "mlx5_core", "14", "DMA")
      .Nic("eth2", "0000:ca:00.0")
      .File("/boot/vmlinuz-5.12.0", "kernel");
  LocalFileSystem fs(b.root());
  FakeCommandRunner runner;
  auto off = ChooseBootConfigurator({"sysfs"}, Target(v1::IOMMU_MODE_OFF, "intel_iommu=off"), &fs,
                                    &runner, {});
  EXPECT_EQ(off.status().message(),
            "no switch method can reach this mode: sysfs: cannot turn the IOMMU off in place; "
            "that needs a reboot (kexec or grub)");
  auto lazy = ChooseBootConfigurator({"sysfs"}, Target(v1::IOMMU_MODE_LAZY, ""), &fs, &runner, {});
  EXPECT_NE(lazy.status().message().find("kernel 5.12 cannot set group type DMA-FQ (needs 5.15)"),
            std::string::npos);
  runner.installed = {"kexec"};
  auto fallback = ChooseBootConfigurator(
      {"sysfs", "kexec"}, Target(v1::IOMMU_MODE_OFF, "intel_iommu=off"), &fs, &runner, {});
  ASSERT_TRUE(fallback.ok()) << fallback.status();
  EXPECT_EQ((*fallback)->method(), "kexec");
}

}  // namespace
}  // namespace iommuvm::agent
