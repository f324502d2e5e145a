// Switching the NIC group's type through sysfs in place; off and old
// kernels are refused so another method is used.
#include "agent/node/sysfs_boot.h"

#include <gtest/gtest.h>

#include "agent/node/boot_configurator.h"
#include "agent/node/grub_boot.h"
#include "agent/node/iommu_probe.h"
#include "agent/node/nic_addresses.h"
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
  runner.installed = {"ip"};
  // The NIC's configuration, as iproute2 shows it: put back after the rebind.
  runner.Answer("ip addr show dev enp202s0f0np0",
                "4: enp202s0f0np0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 4000 qdisc mq state UP "
                "group default qlen 1000\n"
                "    link/ether 10:70:fd:1e:00:01 brd ff:ff:ff:ff:ff:ff\n"
                "    inet 10.10.1.1/24 brd 10.10.1.255 scope global enp202s0f0np0\n"
                "       valid_lft forever preferred_lft forever\n"
                "    inet6 fe80::1270:fdff:fe1e:1/64 scope link\n"
                "       valid_lft forever preferred_lft forever\n");
  runner.Answer("ip route show dev enp202s0f0np0",
                "10.10.1.0/24 proto kernel scope link src 10.10.1.1\n"
                "10.20.0.0/16 via 10.10.1.254\n");
  runner.Answer("ip -6 route show dev enp202s0f0np0",
                "fe80::/64 proto kernel metric 256 pref medium\n");
  for (const char* restore :
       {"ip link set dev enp202s0f0np0 mtu 4000", "ip addr replace 10.10.1.1/24 dev enp202s0f0np0",
        "ip link set dev enp202s0f0np0 up",
        "ip route replace 10.20.0.0/16 via 10.10.1.254 dev enp202s0f0np0"}) {
    runner.Answer(restore, "");
  }
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
  // Read before the unbind, put back after the rebind: the MTU, the address
  // (not the link-local one the kernel makes), the link, the gateway route
  // (not the connected one the address brings).
  EXPECT_EQ(
      runner.ran,
      (std::vector<std::string>{
          "ip addr show dev enp202s0f0np0", "ip route show dev enp202s0f0np0",
          "ip -6 route show dev enp202s0f0np0", "ip link set dev enp202s0f0np0 mtu 4000",
          "ip addr replace 10.10.1.1/24 dev enp202s0f0np0", "ip link set dev enp202s0f0np0 up",
          "ip route replace 10.20.0.0/16 via 10.10.1.254 dev "
          "enp202s0f0np0"}));
}

// busybox's `ip` (the guest image's) prints the same fields its own way.
TEST(SysfsBootTest, NicAddressesFromBusyboxIp) {
  NicAddresses nic = ParseNicAddresses(
      "eth1",
      "3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast qlen 1000\n"
      "    link/ether 52:54:00:1e:00:01 brd ff:ff:ff:ff:ff:ff\n"
      "    inet 10.198.2.2/24 scope global eth1\n"
      "       valid_lft forever preferred_lft forever\n",
      "default via 10.198.2.1 dev eth1 \n10.198.2.0/24 dev eth1 scope link  src 10.198.2.2 \n");
  EXPECT_EQ(nic.mtu, 1500);
  EXPECT_TRUE(nic.up);
  EXPECT_EQ(nic.addresses, std::vector<std::string>{"10.198.2.2/24"});
  EXPECT_EQ(nic.routes, std::vector<std::string>{"default via 10.198.2.1"});
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
