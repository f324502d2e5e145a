// The simulated node: a generated sysroot that follows its boots.
#include "agent/node/sim_node.h"

#include <gtest/gtest.h>

#include "agent/node/boot_configurator.h"
#include "agent/node/grub_boot.h"
#include "agent/node/iommu_probe.h"
#include "common/file_system.h"
#include "tests/support/fake_command_runner.h"
#include "tests/support/sysroot_builder.h"
#include "tests/unit/agent/node/node_test_support.h"

namespace iommuvm::agent {
namespace {

using ::iommuvm::testing::FakeCommandRunner;
using ::iommuvm::testing::SysrootBuilder;

// The simulated node presents each mode the way the real captures do, so
// the probe classifies it like a real node.
TEST(SimNodeTest, EveryModeLooksLikeTheRealKernel) {
  struct Case {
    const char* vendor;
    bool caching_mode;
    const char* cmdline;
    const char* detected;
  };
  const Case cases[] = {
      {"intel", false, "console=ttyS0 intel_iommu=off", "off"},
      {"intel", false, "console=ttyS0 iommu.strict=1", "off"},  // no intel_iommu=on
      {"intel", false, "console=ttyS0 intel_iommu=on iommu=pt", "passthrough"},
      {"intel", false, "console=ttyS0 intel_iommu=on iommu.strict=0", "lazy"},
      {"intel", false, "console=ttyS0 intel_iommu=on", "lazy"},  // built-in default
      {"intel", false, "console=ttyS0 intel_iommu=on iommu.strict=1", "strict"},
      {"intel", true, "console=ttyS0 intel_iommu=on iommu.strict=0", "strict"},
      {"amd", false, "console=ttyS0", "lazy"},
      {"amd", false, "console=ttyS0 amd_iommu=off", "off"},
      {"amd", false, "console=ttyS0 iommu=pt", "passthrough"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.vendor) + (c.caching_mode ? " cm " : " ") + c.cmdline);
    SysrootBuilder b;
    LocalFileSystem fs(b.root());
    ASSERT_TRUE(SimBoot(&fs, c.cmdline, {c.vendor, c.caching_mode}).ok());
    std::string log = Read(fs, "/dmesg.txt");
    IommuProbe p = ProbeIommu(fs, log, true, "");
    EXPECT_EQ(p.detected, c.detected);
    EXPECT_EQ(p.data_nic.name, "eth0");
    EXPECT_EQ(Read(fs, "/proc/cmdline"), std::string(c.cmdline) + "\n");
  }
}

TEST(SimNodeTest, RebootGetsANewBootIdAndSysfsRetypesInPlace) {
  SysrootBuilder b;
  LocalFileSystem fs(b.root());
  ASSERT_TRUE(SimBoot(&fs, "intel_iommu=on iommu.strict=1", {}).ok());
  std::string first_boot = Read(fs, "/proc/sys/kernel/random/boot_id");
  BootMethodsConfig sim;
  sim.simulate = true;
  FakeCommandRunner runner;
  BootTarget pt = Target(v1::IOMMU_MODE_PASSTHROUGH, "intel_iommu=on iommu=pt");
  auto kexec = ChooseBootConfigurator({"kexec"}, pt, &fs, &runner, sim);
  ASSERT_TRUE(kexec.ok());
  EXPECT_EQ((*kexec)->method(), "sim-kexec");
  ASSERT_EQ(*(*kexec)->Apply(pt), SwitchOutcome::kRebootRequired);
  EXPECT_EQ(Read(fs, "/proc/cmdline"), "intel_iommu=on iommu.strict=1\n");  // not yet
  ASSERT_TRUE((*kexec)->Reboot().ok());  // no restart argv: just the new sysroot
  EXPECT_NE(Read(fs, "/proc/sys/kernel/random/boot_id"), first_boot);
  EXPECT_EQ(ProbeIommu(fs, Read(fs, "/dmesg.txt"), true, "").detected, "passthrough");

  BootTarget strict = Target(v1::IOMMU_MODE_STRICT, "");
  auto sysfs = ChooseBootConfigurator({"sysfs"}, strict, &fs, &runner, sim);
  ASSERT_TRUE(sysfs.ok());
  ASSERT_EQ(*(*sysfs)->Apply(strict), SwitchOutcome::kSwitchedInPlace);
  IommuProbe p = ProbeIommu(fs, Read(fs, "/dmesg.txt"), true, "");
  EXPECT_EQ(p.detected, "mixed");
  EXPECT_EQ(p.data_mode, "strict");
  EXPECT_TRUE(runner.ran.empty());
}

TEST(SimNodeTest, RefusesTheRealRoot) {
  LocalFileSystem root("/");
  EXPECT_FALSE(SimBoot(&root, "intel_iommu=on", {}).ok());
}

}  // namespace
}  // namespace iommuvm::agent
