// The archive a capturing guest prints between its console markers.
#include "agent/vm/guest_capture.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/str_join.h"
#include "agent/vm/accelerator.h"
#include "agent/vm/guest_report.h"
#include "agent/vm/qemu_command.h"
#include "agent/vm_check_command.h"
#include "tests/support/fixtures.h"

namespace iommuvm::agent {
namespace {

// busybox base64 wraps at 76 columns; the serial console adds \r.
TEST(GuestCaptureTest, TheArchiveBetweenTheMarkersIsDecoded) {
  auto bytes = ExtractCapture(
      "IOMMUVM-INSPECT-END rc=0\r\nIOMMUVM-CAPTURE-BEGIN\r\naGVsbG8g\r\nc3lzZnM=\r\n"
      "IOMMUVM-CAPTURE-END\r\n");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, "hello sysfs");
  EXPECT_NE(
      ExtractCapture("IOMMUVM-INSPECT-END rc=0\n").status().message().find("missing or cut short"),
      std::string::npos);
  EXPECT_NE(ExtractCapture("IOMMUVM-CAPTURE-BEGIN\naGVsbG8g\n[ 3.1] virtio_net: ok\n"
                           "IOMMUVM-CAPTURE-END\n")
                .status()
                .message()
                .find("not base64"),
            std::string::npos);
}

}  // namespace
}  // namespace iommuvm::agent
