// kexec for real: the QEMU node (Debian's 6.1 kernel behind an emulated
// VT-d, or AMD-Vi with an AMD CPU) is switched through the host modes by
// `kexec -l` + `kexec -e` inside the guest. Each switch is a new boot, the
// probe verifies the mode from the guest's own sysfs and kernel log, the
// agent's outbox (on the node's disk) survives every kexec, and each mode's
// run measures Redis in the guest.
#include "absl/strings/str_join.h"
#include "iommu/mode_names.h"
#include "tests/node/node_testbed.h"

namespace iommuvm::testing {
namespace {

struct Vendor {
  std::string viommu;
  std::string first_cmdline;       // the first boot: the kernel's default
  std::vector<std::string> modes;  // what the emulated IOMMU can run
};

class KexecModesTest : public NodeTier, public ::testing::WithParamInterface<Vendor> {};

TEST_P(KexecModesTest, EveryModeByARealKexecVerifiedFromInside) {
  const Vendor& v = GetParam();
  QemuNodeConfig config;
  config.viommu = v.viommu;
  config.cmdline = v.first_cmdline;
  config.kernels = {{ReleaseOf(GuestDir() + "/vmlinuz"), GuestDir() + "/vmlinuz"}};
  ASSERT_NO_FATAL_FAILURE(StartNode(config));
  int n = static_cast<int>(v.modes.size());
  ASSERT_NO_FATAL_FAILURE(
      SubmitAndWait(absl::StrCat("  iommu: [", absl::StrJoin(v.modes, ", "), "]\n"), "kexec", n));
  // Each run in its own mode, by the probe inside the guest.
  for (const std::string& mode : v.modes) {
    v1::IommuMode m;
    ASSERT_TRUE(iommu::ParseIommuModeName(mode, &m));
    EXPECT_EQ(Verified(m, "verify.detected", mode), 1) << mode << h_->Events();
  }
  // Every switch a real kexec into a new boot, and the agent back each time
  // with its outbox.
  int switches =
      static_cast<int>(h_->Count("SELECT COUNT(*) FROM events WHERE kind = 'switching'"));
  EXPECT_GE(switches, n - 1);
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'switch.method' AND "
                      "value = 'kexec'"),
            switches);
  EXPECT_EQ(h_->Count("SELECT COUNT(DISTINCT value) FROM attempt_evidence WHERE key = "
                      "'switch.boot_id'"),
            switches);
  std::string console = node_->Console();
  size_t resumed = 0;
  for (size_t at = console.find("unacked messages to resend"); at != std::string::npos;
       at = console.find("unacked messages to resend", at + 1)) {
    ++resumed;
  }
  EXPECT_EQ(resumed, static_cast<size_t>(switches) + 1) << console;
  std::cout << v.viommu << " kexec switch times under TCG:\n" << h_->SwitchTimes();
}

INSTANTIATE_TEST_SUITE_P(Debian61, KexecModesTest,
                         ::testing::Values(
                             // Booted with no IOMMU tokens: the kernel's default (lazy here).
                             Vendor{"intel", "", {"strict", "lazy", "passthrough", "off"}},
                             // No lazy: QEMU's AMD-Vi advertises NpCache, so Linux runs
                             // strict "due to virtualization" whatever it is asked
                             // (docs/vm.md; tests/vm/vm_check_test.cc amd_lazy_runs_strict).
                             Vendor{"amd", "", {"strict", "passthrough", "off"}}),
                         [](const ::testing::TestParamInfo<Vendor>& info) {
                           return info.param.viommu;
                         });

}  // namespace
}  // namespace iommuvm::testing
