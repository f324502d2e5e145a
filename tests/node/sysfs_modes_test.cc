// sysfs for real: the QEMU node's data NIC (virtio-net behind the emulated
// VT-d) has its IOMMU group retyped in place — unbound, `DMA` / `DMA-FQ` /
// `identity` written to the group's type, bound back — and comes back with
// its address, MTU and routes, so each mode's run measures Redis in the
// guest over it. No reboot: one boot id throughout.
#include "iommu/mode_names.h"
#include "tests/node/node_testbed.h"

namespace iommuvm::testing {
namespace {

using SysfsModesTest = NodeTier;

TEST_F(SysfsModesTest, TheDataNicsGroupIsRetypedInPlaceAndKeepsItsAddress) {
  QemuNodeConfig config;
  config.kernels = {{ReleaseOf(GuestDir() + "/vmlinuz"), GuestDir() + "/vmlinuz"}};
  ASSERT_NO_FATAL_FAILURE(StartNode(config));  // booted strict
  ASSERT_NO_FATAL_FAILURE(SubmitAndWait("  iommu: [lazy, passthrough, strict]\n",
                                        "{method: sysfs, fallback: [kexec]}", 3));
  for (const char* mode : {"lazy", "passthrough", "strict"}) {
    v1::IommuMode m;
    ASSERT_TRUE(iommu::ParseIommuModeName(mode, &m));
    EXPECT_EQ(Verified(m, "verify.data_mode", mode), 1) << mode << h_->Events();
  }
  // Switched in place: sysfs each time, never a new boot.
  int switches =
      static_cast<int>(h_->Count("SELECT COUNT(*) FROM events WHERE kind = 'switching'"));
  EXPECT_GE(switches, 2);
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'switch.method' AND "
                      "value = 'sysfs'"),
            switches);
  EXPECT_EQ(h_->Count("SELECT COUNT(DISTINCT value) FROM attempt_evidence WHERE key = "
                      "'verify.boot_id'"),
            1);
  std::cout << "sysfs switch times under TCG:\n" << h_->SwitchTimes();
}

}  // namespace
}  // namespace iommuvm::testing
