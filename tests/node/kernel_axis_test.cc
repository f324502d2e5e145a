// The kernel axis on a real kernel: the QEMU node has two Debian kernel
// packages in its /boot. An experiment over matrix.kernel [stock, <second>]
// makes it kexec into the second kernel and back; the probe verifies
// `uname -r` and the mode from the guest's own /proc and /sys after each
// kexec, and the runs measure Redis in the guest from a client agent
// across the data plane.
#include "tests/node/node_testbed.h"

namespace iommuvm::testing {
namespace {

using KernelAxisNodeTest = NodeTier;

TEST_F(KernelAxisNodeTest, KexecIntoASecondKernelAndBackVerifiedFromInside) {
  const std::string guest = GuestDir();
  if (!std::filesystem::exists(guest + "/vmlinuz-second")) {
    GTEST_SKIP() << "no second kernel in " << guest
                 << " (scripts/test builds it with scripts/guest-image --second-kernel)";
  }
  std::string stock = ReleaseOf(guest + "/vmlinuz"), second = ReleaseOf(guest + "/vmlinuz-second");
  ASSERT_FALSE(stock.empty() || second.empty() || stock == second) << stock << " " << second;
  QemuNodeConfig config;
  config.kernels = {{stock, guest + "/vmlinuz"}, {second, guest + "/vmlinuz-second"}};
  ASSERT_NO_FATAL_FAILURE(StartNode(config));

  ASSERT_NO_FATAL_FAILURE(SubmitAndWait(
      absl::StrCat("  kernel: [stock, ", second, "]\n  iommu: [strict]\n"), "kexec", 2));
  // Each run verified in its own kernel by the probe inside the guest.
  for (const std::string& release : {stock, second}) {
    EXPECT_EQ(h_->Count(absl::StrCat(
                  "SELECT COUNT(*) FROM attempt_evidence e JOIN attempts a ON a.id = e.attempt_id "
                  "JOIN attempt_evidence k ON k.attempt_id = a.id WHERE a.state = 'SUCCEEDED' "
                  "AND e.key = 'verify.kernel_release' AND k.key = 'kernel.release' AND e.value = "
                  "k.value AND e.value = '",
                  release, "'")),
              1)
        << release;
  }
  EXPECT_EQ(Verified(v1::IOMMU_MODE_STRICT, "verify.detected", "strict"), 2) << h_->Events();
  // Two real kexecs: into the second kernel, and back into stock, each a
  // new boot.
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'switch.method' AND "
                      "value = 'kexec'"),
            2);
  EXPECT_EQ(h_->Count("SELECT COUNT(DISTINCT value) FROM attempt_evidence WHERE key = "
                      "'switch.boot_id'"),
            2);
  EXPECT_NE(node_->Console().find("Linux version " + second), std::string::npos);
  std::cout << "kexec kernel switch times under TCG:\n" << h_->SwitchTimes();
}

}  // namespace
}  // namespace iommuvm::testing
