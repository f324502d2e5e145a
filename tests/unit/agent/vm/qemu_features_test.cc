#include "agent/vm/qemu_features.h"

#include <gtest/gtest.h>

#include "tests/support/fake_command_runner.h"

namespace iommuvm::agent {
namespace {

using ::iommuvm::testing::FakeCommandRunner;

// QEMU 7.2's listing (Debian 12): scalable mode, but no x-flts, and a
// vfio-pci without iommufd.
constexpr char kIntelIommu72[] = R"(intel-iommu options:
  aw-bits=<uint8>        -  (default: 39)
  caching-mode=<bool>    -  (default: false)
  x-pasid-mode=<bool>    -  (default: false)
  x-scalable-mode=<bool> -  (default: false)
)";

TEST(QemuFeaturesTest, ReadsWhatQemuListsOfEachDevice) {
  EXPECT_EQ(
      DeviceProperties(kIntelIommu72),
      (std::vector<std::string>{"aw-bits", "caching-mode", "x-pasid-mode", "x-scalable-mode"}));
  FakeCommandRunner runner;
  runner.installed = {"qemu"};
  runner.Answer("qemu -machine none -device intel-iommu,help", kIntelIommu72);
  runner.Answer("qemu -machine none -device vfio-pci,help",
                "vfio-pci options:\n  host=<str>\n  x-vga=<bool>\n");
  EXPECT_EQ(QemuFeatures(&runner, "qemu"),
            (std::vector<std::string>{"intel-iommu.x-scalable-mode"}));
  runner.Answer("qemu -machine none -device intel-iommu,help",
                std::string(kIntelIommu72) + "  x-flts=<bool>          -  (default: false)\n");
  runner.Answer("qemu -machine none -device vfio-pci,help",
                "vfio-pci options:\n  iommufd=<link<iommufd>>\n");
  EXPECT_EQ(QemuFeatures(&runner, "qemu"),
            (std::vector<std::string>{"intel-iommu.x-scalable-mode", "intel-iommu.x-flts",
                                      "vfio-pci.iommufd"}));
  EXPECT_TRUE(QemuFeatures(&runner, "not-installed").empty());
}

}  // namespace
}  // namespace iommuvm::agent
