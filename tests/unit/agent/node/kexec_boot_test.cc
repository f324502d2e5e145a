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

// The kernel axis: kexec loads the target kernel's image and initrd, the
// command line keeps everything but names the new image; a kernel whose
// image is missing is refused with its name, and sysfs never "switches"
// kernels in place.
TEST(KexecBootTest, BootsAnotherKernelsImageAndInitrd) {
  SysrootBuilder b;
  b.Cmdline("BOOT_IMAGE=/boot/vmlinuz-6.1.0-26-amd64 root=/dev/sda1 ro intel_iommu=on")
      .File("/proc/sys/kernel/osrelease", "6.1.0-26-amd64\n")
      .File("/boot/vmlinuz-6.1.0-26-amd64", "kernel")
      .File("/boot/vmlinuz-6.12.9-fns", "kernel")
      .File("/boot/initrd.img-6.12.9-fns", "initrd");
  LocalFileSystem fs(b.root());
  FakeCommandRunner runner;
  runner.installed = {"kexec"};
  BootTarget t = Target(v1::IOMMU_MODE_STRICT, "intel_iommu=on iommu.strict=1");
  t.kernel = {"6.12.9-fns", "6.12.9-fns", "", "", ""};
  std::vector<std::string> methods = {"sysfs", "kexec"};
  auto kexec = ChooseBootConfigurator(methods, t, &fs, &runner, {});
  ASSERT_TRUE(kexec.ok()) << kexec.status();
  EXPECT_EQ((*kexec)->method(), "kexec");
  ASSERT_TRUE((*kexec)->Apply(t).ok());
  EXPECT_EQ(runner.ran[0],
            "kexec -l " + b.root() + "/boot/vmlinuz-6.12.9-fns --initrd=" + b.root() +
                "/boot/initrd.img-6.12.9-fns --command-line=BOOT_IMAGE=/boot/"
                "vmlinuz-6.12.9-fns root=/dev/sda1 ro intel_iommu=on iommu.strict=1");
  // sysfs refused it: another kernel is never reached in place.
  methods = {"sysfs"};
  EXPECT_EQ(ChooseBootConfigurator(methods, t, &fs, &runner, {}).status().message(),
            "no switch method can reach this mode: sysfs: cannot boot kernel 6.12.9-fns in place "
            "(the node runs 6.1.0-26-amd64)");

  // Mode `current` with a kernel: the mode tokens stay as they are.
  BootTarget same_mode = Target(v1::IOMMU_MODE_CURRENT, "");
  same_mode.kernel = t.kernel;
  EXPECT_EQ(NextCmdline("root=/dev/sda1 intel_iommu=on iommu=pt", same_mode),
            "root=/dev/sda1 intel_iommu=on iommu=pt");

  BootTarget missing = t;
  missing.kernel = {"hwe", "6.8.0-45-generic", "/boot/vmlinuz-6.8.0-45-generic", "", ""};
  methods = {"kexec"};
  EXPECT_EQ(ChooseBootConfigurator(methods, missing, &fs, &runner, {}).status().message(),
            "no switch method can reach this mode: kexec: the image "
            "/boot/vmlinuz-6.8.0-45-generic of kernel hwe does not exist on this node");
}

}  // namespace
}  // namespace iommuvm::agent
