// Which grub.cfg entry boots a kernel image, as GRUB_DEFAULT's path.
#include "agent/node/grub_menu.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace iommuvm::agent {
namespace {

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(IOMMUVM_SOURCE_DIR "/tests/fixtures/grub/") + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

constexpr char kUuid[] = "5f2c8a4e-1b3d-4c7a-9e21-7d6b0f3a9c11";

TEST(GrubMenuTest, FindsTheVersionsOwnEntryByIdNotTheSimpleOne) {
  std::string cfg = Fixture("debian12-two-kernels.cfg");
  ASSERT_FALSE(cfg.empty());
  // The newest kernel also has the top "simple" entry, which would follow
  // the next kernel installed; the submenu entry keeps booting this one.
  EXPECT_EQ(GrubEntryFor(cfg, "vmlinuz-6.12.9-fns"),
            std::string("gnulinux-advanced-") + kUuid + ">gnulinux-6.12.9-fns-advanced-" + kUuid);
  EXPECT_EQ(
      GrubEntryFor(cfg, "vmlinuz-6.1.0-26-amd64"),
      std::string("gnulinux-advanced-") + kUuid + ">gnulinux-6.1.0-26-amd64-advanced-" + kUuid);
  EXPECT_EQ(GrubEntryFor(cfg, "vmlinuz-6.1.0-25-amd64"), "");
}

TEST(GrubMenuTest, TitlesWithoutIdsAndImagesOnASeparateBoot) {
  std::string cfg = Fixture("ubuntu2204-separate-boot-no-ids.cfg");
  ASSERT_FALSE(cfg.empty());
  EXPECT_EQ(GrubEntryFor(cfg, "vmlinuz-6.8.0-45-generic"),
            "Advanced options for Ubuntu>Ubuntu, with Linux 6.8.0-45-generic");
  EXPECT_EQ(GrubEntryFor(cfg, "vmlinuz-5.15.0-122-generic"),
            "Advanced options for Ubuntu>Ubuntu, with Linux 5.15.0-122-generic");
}

TEST(GrubMenuTest, QuotedTitlesAndRecoveryOnly) {
  std::string cfg =
      "menuentry 'Bob'\\''s kernel' --class os {\n"
      "\tlinux /boot/vmlinuz-6.9-bob root=/dev/sda1\n"
      "}\n"
      "menuentry 'Debian, with Linux 6.2 (recovery mode)' {\n"
      "\tlinux /boot/vmlinuz-6.2 single\n"
      "}\n";
  EXPECT_EQ(GrubEntryFor(cfg, "vmlinuz-6.9-bob"), "Bob's kernel");
  EXPECT_EQ(GrubEntryFor(cfg, "vmlinuz-6.2"), "");  // never a recovery entry
}

}  // namespace
}  // namespace iommuvm::agent
