// NodeControl's own checks, before any boot method runs.
#include "agent/node/node_control.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/file_system.h"
#include "tests/support/fake_command_runner.h"
#include "tests/unit/agent/node/node_test_support.h"

namespace iommuvm::agent {
namespace {

using ::iommuvm::testing::FakeCommandRunner;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

v1::Step SwitchStep(const std::string& tokens, const std::string& extra) {
  v1::Step step;
  step.set_step_id("s1");
  v1::SwitchMode* s = step.mutable_switch_mode();
  s->set_mode(v1::IOMMU_MODE_STRICT);
  s->set_tokens(tokens);
  s->set_extra_cmdline(extra);
  s->add_methods("kexec");
  s->add_methods("grub");
  return step;
}

// A controller that is not the one the operator trusts (or one whose spec
// check was bypassed) sends tokens straight to the node: nothing is run
// and nothing is written.
TEST(NodeControlTest, RefusesTokensNoSpecMayWriteWhateverSendsThem) {
  SysrootBuilder b;
  Node(b, "BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on", "dmar0", "DMA");
  LocalFileSystem sysroot(b.root());
  LocalFileSystem host(b.root());
  FakeCommandRunner runner;
  runner.installed = {"kexec", "update-grub", "grub-reboot", "systemctl"};
  NodeControlConfig config;
  config.state_dir = "/state";
  NodeControl node(&sysroot, &host, &runner, config);
  for (const auto& [tokens, extra] : std::vector<std::pair<std::string, std::string>>{
           {"intel_iommu=on iommu.strict=1", "init=/bin/sh"},
           {"intel_iommu=on iommu.strict=1 rdinit=/x", ""},
           {"intel_iommu=on", "quiet\"; reboot"},
           {"intel_iommu=on", "some.param=1"}}) {
    auto r = node.Switch(SwitchStep(tokens, extra));
    ASSERT_FALSE(r.ok()) << tokens << " " << extra;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(r.status().message(), HasSubstr("refusing to write the boot configuration"));
  }
  EXPECT_THAT(runner.ran, IsEmpty());

  // What the operator allows with --allow_cmdline passes the check.
  config.allow_cmdline = {"some.param"};
  NodeControl allowing(&sysroot, &host, &runner, config);
  auto r = allowing.Switch(SwitchStep("intel_iommu=on", "some.param=1"));
  EXPECT_THAT(r.status().message(), ::testing::Not(HasSubstr("refusing")));
}

}  // namespace
}  // namespace iommuvm::agent
