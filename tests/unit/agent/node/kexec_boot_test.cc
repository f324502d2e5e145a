// kexec: the next boot's command line and the kexec calls.
#include "agent/node/kexec_boot.h"

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

TEST(KexecBootTest, LoadsTheRunningKernelWithTheNewCmdline) {
  SysrootBuilder b;
  b.Cmdline("BOOT_IMAGE=/boot/vmlinuz-6.1.0-26-amd64 root=/dev/sda1 ro iommu.strict=1")
      .File("/proc/sys/kernel/osrelease", "6.1.0-26-amd64\n")
      .File("/boot/vmlinuz-6.1.0-26-amd64", "kernel")
      .File("/boot/initrd.img-6.1.0-26-amd64", "initrd");
  LocalFileSystem fs(b.root());
  FakeCommandRunner runner;
  std::vector<std::string> methods = {"kexec"};
  BootTarget t = Target(v1::IOMMU_MODE_PASSTHROUGH, "intel_iommu=on iommu=pt");
  EXPECT_EQ(ChooseBootConfigurator(methods, t, &fs, &runner, {}).status().message(),
            "no switch method can reach this mode: kexec: kexec-tools is not installed");
  runner.installed = {"kexec"};
  auto kexec = ChooseBootConfigurator(methods, t, &fs, &runner, {});
  ASSERT_TRUE(kexec.ok()) << kexec.status();
  auto outcome = (*kexec)->Apply(t);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, SwitchOutcome::kRebootRequired);
  ASSERT_EQ(runner.ran.size(), 1u);
  EXPECT_EQ(runner.ran[0], "kexec -l " + b.root() +
                               "/boot/vmlinuz-6.1.0-26-amd64 --initrd=" + b.root() +
                               "/boot/initrd.img-6.1.0-26-amd64 --command-line=BOOT_IMAGE=/boot/"
                               "vmlinuz-6.1.0-26-amd64 root=/dev/sda1 ro intel_iommu=on iommu=pt");
  ASSERT_TRUE((*kexec)->Reboot().ok());
  EXPECT_EQ(runner.ran.back(), "kexec -e");  // no systemd here
  runner.results["kexec"].exit_code = 1;
  runner.results["kexec"].err = "kexec_load failed: Operation not permitted";
  EXPECT_NE((*kexec)->Apply(t).status().message().find("Operation not permitted"),
            std::string::npos);
}

}  // namespace
}  // namespace iommuvm::agent
