#include "agent/node/node_restore.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/node/grub_boot.h"
#include "tests/support/fake_command_runner.h"
#include "tests/unit/agent/node/node_test_support.h"

namespace iommuvm::agent {
namespace {

using ::iommuvm::testing::FakeCommandRunner;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(NodeRestoreTest, RemovesWhatTheAgentWroteAndRegeneratesGrub) {
  SysrootBuilder b;
  Node(b, "BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on iommu.strict=1", "dmar0", "DMA");
  LocalFileSystem fs(b.root());
  ASSERT_TRUE(fs.WriteFile(kGrubDropIn, GrubDropIn(Target(v1::IOMMU_MODE_STRICT,
                                                          "intel_iommu=on iommu.strict=1")))
                  .ok());
  ASSERT_TRUE(fs.WriteFile(kGrubCustomCfg, GrubOneShotEntry("u", "/vmlinuz", "", "x")).ok());
  ASSERT_TRUE(fs.WriteFile("/state/pending_boot", "step_id=s1\n").ok());
  FakeCommandRunner runner;
  runner.installed = {"update-grub", "grub-editenv", "kexec"};
  auto done = RestoreNode(&fs, &fs, &runner, {.state_dir = "/state"});
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_FALSE(fs.Exists(kGrubDropIn));
  EXPECT_FALSE(fs.Exists(kGrubCustomCfg));
  EXPECT_FALSE(fs.Exists("/state/pending_boot"));
  EXPECT_THAT(runner.ran,
              ElementsAre("grub-editenv - unset next_entry", "update-grub", "kexec -u"));
  EXPECT_THAT(*done, Contains(HasSubstr("original command line")));

  // A second run finds nothing of grub's to undo and runs no update-grub.
  runner.ran.clear();
  done = RestoreNode(&fs, &fs, &runner, {.state_dir = "/state"});
  EXPECT_THAT(runner.ran, ElementsAre("kexec -u"));
}

TEST(NodeRestoreTest, LeavesAUsersOwnCustomCfgAndAnotherRootsBootAlone) {
  SysrootBuilder b;
  Node(b, "BOOT_IMAGE=/vmlinuz root=/dev/sda1", "dmar0", "DMA");
  LocalFileSystem fs(b.root());
  std::string mine = "menuentry 'mine' {\n}\n";
  ASSERT_TRUE(fs.WriteFile(kGrubCustomCfg,
                           WithOneShotEntry(mine, GrubOneShotEntry("u", "/vmlinuz", "", "x")))
                  .ok());
  ASSERT_TRUE(fs.WriteFile(kGrubDropIn, "# iommuvm\n").ok());
  FakeCommandRunner runner;
  runner.installed = {"update-grub", "grub-editenv", "kexec"};
  auto done = RestoreNode(&fs, &fs, &runner, {.state_dir = "/state", .run_boot_tools = false});
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(fs.ReadFile(kGrubCustomCfg).value_or(""), mine);  // iommuvm's block only is gone
  EXPECT_FALSE(fs.Exists(kGrubDropIn));
  EXPECT_THAT(runner.ran, ::testing::IsEmpty());
}

}  // namespace
}  // namespace iommuvm::agent
