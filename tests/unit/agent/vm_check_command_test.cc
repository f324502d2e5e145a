// vm-check's flags: defaults, absolute paths for QEMU, errors naming the flag.
#include "agent/vm_check_command.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/str_join.h"
#include "agent/vm/accelerator.h"
#include "agent/vm/guest_capture.h"
#include "agent/vm/guest_report.h"
#include "agent/vm/qemu_command.h"
#include "tests/support/fixtures.h"

namespace iommuvm::agent {
namespace {

TEST(VmCheckArgsTest, DefaultsFlagsAndErrors) {
  auto o = ParseVmCheckArgs({"--guest-dir", "/g", "--guest-iommu", "lazy", "--caching-mode", "off",
                             "--aw-bits", "39", "--memory", "2GiB", "--format", "json"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->vm.viommu(), "intel");
  EXPECT_EQ(o->vm.guest_iommu(), v1::IOMMU_MODE_LAZY);
  EXPECT_FALSE(o->vm.caching_mode());
  EXPECT_TRUE(o->vm.intremap());
  EXPECT_EQ(o->vm.aw_bits(), 39u);
  EXPECT_EQ(o->vm.memory_bytes(), 2ull << 30);
  EXPECT_EQ(o->vm.kernel(), "/g/vmlinuz");
  EXPECT_EQ(o->vm.initrd(), "/g/initrd.cpio");
  EXPECT_EQ(o->accel, "auto");
  EXPECT_TRUE(o->json);
  // QEMU runs in the run directory: every path it gets is absolute.
  auto relative =
      ParseVmCheckArgs({"--guest-dir", "g", "--run-dir", "runs/a", "--capture", "caps/intel-lazy"});
  ASSERT_TRUE(relative.ok()) << relative.status();
  std::string cwd = std::filesystem::current_path();
  EXPECT_EQ(relative->run_dir, cwd + "/runs/a");
  EXPECT_EQ(relative->vm.kernel(), cwd + "/g/vmlinuz");
  EXPECT_EQ(relative->vm.initrd(), cwd + "/g/initrd.cpio");
  EXPECT_EQ(relative->capture_dir, cwd + "/caps/intel-lazy");
  EXPECT_EQ(relative->vm.append(), "vmcheck.capture=1");  // tells the guest's init
  EXPECT_TRUE(o->capture_dir.empty());
  EXPECT_EQ(o->vm.append(), "");
  auto none = ParseVmCheckArgs({"--guest-dir", "/g", "--viommu", "none"});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->vm.guest_iommu(), v1::IOMMU_MODE_OFF);  // the only mode without a vIOMMU
  EXPECT_EQ(ParseVmCheckArgs({"--guest-dir", "/g", "--guest-iommu", "lazzy"}).status().message(),
            "--guest-iommu 'lazzy' is not one of off, passthrough, lazy, strict, current");
  EXPECT_EQ(ParseVmCheckArgs({"--guest-dir", "/g", "--caching-mode", "yes"}).status().message(),
            "--caching-mode 'yes' is not on or off");
  EXPECT_EQ(ParseVmCheckArgs({"--guest-dir", "/g", "--accel", "hvf"}).status().message(),
            "--accel 'hvf' is not auto, kvm or tcg");
  EXPECT_TRUE(absl::IsCancelled(ParseVmCheckArgs({"--help"}).status()));
}

}  // namespace
}  // namespace iommuvm::agent
