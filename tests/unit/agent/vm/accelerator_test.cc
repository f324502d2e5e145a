// KVM or TCG: KVM only when /dev/kvm opens and a probe boot works.
#include "agent/vm/accelerator.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/str_join.h"
#include "agent/vm/guest_capture.h"
#include "agent/vm/guest_report.h"
#include "agent/vm/qemu_command.h"
#include "agent/vm_check_command.h"
#include "tests/support/fixtures.h"

namespace iommuvm::agent {
namespace {

TEST(AcceleratorTest, KvmOnlyWhenTheDeviceOpensAndAProbeBootWorks) {
  int probes = 0;
  auto ok = [&] {
    ++probes;
    return absl::OkStatus();
  };
  Accelerator missing = ChooseAccelerator("/nonexistent/kvm", ok);
  EXPECT_EQ(missing.name, "tcg");
  EXPECT_EQ(missing.reason, "TCG: cannot open /nonexistent/kvm (No such file or directory)");
  EXPECT_EQ(probes, 0);  // no probe without a device
  // /dev/null stands in for a device node that opens read-write.
  Accelerator failed = ChooseAccelerator(
      "/dev/null", [] { return absl::FailedPreconditionError("qemu killed by signal 6"); });
  EXPECT_EQ(failed.name, "tcg");
  EXPECT_EQ(failed.reason,
            "TCG: /dev/null opens but a probe boot under KVM failed: qemu killed by signal 6");
  EXPECT_EQ(ChooseAccelerator("/dev/null", ok).name, "kvm");
}

}  // namespace
}  // namespace iommuvm::agent
