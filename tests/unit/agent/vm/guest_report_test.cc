// The guest's own probe report read from its console: recorded
// consoles, and reports missing or cut short.
#include "agent/vm/guest_report.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/str_join.h"
#include "agent/vm/accelerator.h"
#include "agent/vm/guest_capture.h"
#include "agent/vm/qemu_command.h"
#include "agent/vm_check_command.h"
#include "tests/support/fixtures.h"

namespace iommuvm::agent {
namespace {

using testing::Fixture;

TEST(GuestReportTest, RecordedConsoleOfALazyGuestUnderCachingMode) {
  auto r = ParseGuestReport(Fixture("vm/console-intel-lazy-caching-mode.log"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->requested_mode, "lazy");
  EXPECT_EQ(r->detected_mode, "strict");
  EXPECT_EQ(r->cmdline, "console=ttyS0 panic=-1 intel_iommu=on iommu.strict=0");
  EXPECT_EQ(r->data_nic, "eth0");
  EXPECT_EQ(r->data_group_type, "DMA");
  EXPECT_EQ(r->iommu_units, std::vector<std::string>{"dmar0"});
  EXPECT_EQ(r->kernel_release, "6.1.0-56-amd64");
  ASSERT_EQ(r->warnings.size(), 2u);
  EXPECT_NE(r->warnings[0].find("batching disallowed due to virtualization"), std::string::npos);
}

TEST(GuestReportTest, MissingOrCutReportsSayWhat) {
  EXPECT_NE(ParseGuestReport("[    0.0] Linux version 6.1\nKernel panic - not syncing")
                .status()
                .message()
                .find("never reached its init"),
            std::string::npos);
  EXPECT_NE(ParseGuestReport("IOMMUVM-GUEST-UP\nIOMMUVM-INSPECT-BEGIN\n{\"requested_mode\"")
                .status()
                .message()
                .find("missing or cut short"),
            std::string::npos);
  EXPECT_NE(ParseGuestReport("IOMMUVM-GUEST-UP\nIOMMUVM-INSPECT-BEGIN\n{oops}\n"
                             "IOMMUVM-INSPECT-END rc=1\n")
                .status()
                .message()
                .find("not JSON"),
            std::string::npos);
}

}  // namespace
}  // namespace iommuvm::agent
