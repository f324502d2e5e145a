
#include "agent/node/boot_configurator.h"

#include <gtest/gtest.h>

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

TEST(NextCmdlineTest, ReplacesModeTokensAndKeepsTheRest) {
  BootTarget t = Target(v1::IOMMU_MODE_STRICT, "intel_iommu=on iommu.strict=1", "mitigations=off");
  std::string once = NextCmdline(
      "BOOT_IMAGE=/vmlinuz-6.1.0 root=UUID=abc ro intel_iommu=on iommu=pt console=ttyS0", t);
  EXPECT_EQ(once,
            "BOOT_IMAGE=/vmlinuz-6.1.0 root=UUID=abc ro console=ttyS0 intel_iommu=on "
            "iommu.strict=1 mitigations=off");
  // Switching again neither duplicates the extra tokens nor keeps old ones.
  BootTarget pt = Target(v1::IOMMU_MODE_PASSTHROUGH, "intel_iommu=on iommu=pt", "mitigations=off");
  EXPECT_EQ(NextCmdline(once, pt),
            "BOOT_IMAGE=/vmlinuz-6.1.0 root=UUID=abc ro console=ttyS0 intel_iommu=on iommu=pt "
            "mitigations=off");
}

}  // namespace
}  // namespace iommuvm::agent
