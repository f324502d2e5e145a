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
  std::string spec = h_->WriteFile("sysfs.yaml", R"(name: sysfs-modes
matrix:
  iommu: [lazy, passthrough, strict]
  workload: [get]
workloads:
  get:
    app: redis
    generator: {tests: [get], clients: 4, requests: 20000}
nodes:
  pairs: [{server: qnode, client: client}]
switch: {method: sysfs, fallback: [kexec]}
order: {repetitions_across_boots: false}
telemetry: {interval: 1s}
timeouts: {boot: 3m, prepare: 60s, run: 2m, collect: 60s}
)");
  CommandResult r = h_->Cli({"submit", spec, "--wait"}, absl::Minutes(8));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << Events() << node_->Console();
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 3);
  for (const char* mode : {"lazy", "passthrough", "strict"}) {
    v1::IommuMode m;
    ASSERT_TRUE(iommu::ParseIommuModeName(mode, &m));
    EXPECT_EQ(h_->Count(absl::StrCat(
                  "SELECT COUNT(*) FROM attempt_evidence e JOIN attempts a ON a.id = "
                  "e.attempt_id JOIN runs r ON r.id = a.run_id WHERE a.state = 'SUCCEEDED' AND "
                  "e.key = 'verify.data_mode' AND e.value = '",
                  mode, "' AND r.iommu = ", static_cast<int>(m))),
              1)
        << mode << Events();
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
  std::cout << "sysfs switch times under TCG:\n" << SwitchTimes();
}

}  // namespace
}  // namespace iommuvm::testing
