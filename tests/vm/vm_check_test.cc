// Real guests: Debian's own 6.1 kernel booted by QEMU on q35 with an
// emulated IOMMU (TCG here; scripts/guest-image builds the image with the
// agent inside), the guest's IOMMU mode judged from inside the guest by the
// agent's probe through `iommuvm-agent vm-check`. Pins what each vIOMMU
// configuration really gives — including the two traps: lazy under
// intel-iommu with caching mode, and lazy under amd-iommu, both run strict.
#include <gtest/gtest.h>

#include <filesystem>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "common/command_runner.h"

namespace iommuvm {
namespace {

struct Case {
  std::string name;
  std::vector<std::string> flags;
  std::string detected;
  std::string group_type;  // of the guest NIC's group ("" with no IOMMU)
  bool as_requested;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

CommandResult VmCheck(const std::vector<std::string>& flags, const std::string& run_dir) {
  CommandSpec spec;
  spec.argv = {IOMMUVM_AGENT_BIN, "vm-check", "--guest-dir", IOMMUVM_GUEST_DIR, "--run-dir",
               run_dir, "--format", "json"};
  spec.argv.insert(spec.argv.end(), flags.begin(), flags.end());
  spec.timeout = absl::Seconds(240);
  auto r = LocalCommandRunner().Run(spec);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : CommandResult{};
}

std::string Field(const std::string& name, const std::string& value) {
  return absl::StrCat("\"", name, "\": \"", value, "\"");
}

class VmCheckTest : public ::testing::TestWithParam<Case> {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(std::filesystem::exists(IOMMUVM_GUEST_DIR "/initrd.cpio"))
        << "no guest image in " IOMMUVM_GUEST_DIR " (scripts/test builds it with "
           "scripts/guest-image)";
  }
};

TEST_P(VmCheckTest, GuestRunsWhatItsOwnProbeSees) {
  const Case& c = GetParam();
  std::string run_dir = absl::StrCat(::testing::TempDir(), "vm-check-", c.name);
  std::vector<std::string> flags = c.flags;
  std::string capture = run_dir + "/capture";
  flags.insert(flags.end(), {"--accel", "tcg", "--capture", capture});
  CommandResult r = VmCheck(flags, run_dir);
  EXPECT_EQ(r.exit_code, c.as_requested ? 0 : 1) << r.out << r.err;
  EXPECT_NE(r.out.find(Field("detected", c.detected)), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find(Field("group_type", c.group_type)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(Field("nic", "eth0")), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(absl::StrCat("\"as_requested\": ", c.as_requested ? "true" : "false")),
            std::string::npos)
      << r.out;
  // What the guest sent back (scripts/record-captures keeps such captures
  // for the inspect tests) is judged on the host exactly as inside.
  CommandSpec inspect;
  inspect.argv = {IOMMUVM_AGENT_BIN,      "inspect",  "--sysroot", capture, "--kernel-log",
                  capture + "/dmesg.txt", "--format", "json"};
  auto host = LocalCommandRunner().Run(inspect);
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_NE(host->out.find(absl::StrCat("\"detected_mode\": \"", c.detected, "\"")),
            std::string::npos)
      << host->out << host->err;
  EXPECT_NE(host->out.find(absl::StrCat("\"group_type\": \"", c.group_type, "\"")),
            std::string::npos)
      << host->out;
}

INSTANTIATE_TEST_SUITE_P(
    Debian61, VmCheckTest,
    ::testing::Values(
        Case{"intel_strict", {"--viommu", "intel", "--guest-iommu", "strict"}, "strict", "DMA",
             true},
        Case{"intel_lazy_caching_mode_runs_strict",
             {"--viommu", "intel", "--guest-iommu", "lazy", "--caching-mode", "on"}, "strict",
             "DMA", false},
        Case{"intel_lazy",
             {"--viommu", "intel", "--guest-iommu", "lazy", "--caching-mode", "off"}, "lazy",
             "DMA-FQ", true},
        Case{"intel_passthrough", {"--viommu", "intel", "--guest-iommu", "passthrough"},
             "passthrough", "identity", true},
        Case{"intel_off", {"--viommu", "intel", "--guest-iommu", "off"}, "off", "", true},
        Case{"amd_strict", {"--viommu", "amd", "--guest-iommu", "strict"}, "strict", "DMA", true},
        Case{"amd_lazy_runs_strict", {"--viommu", "amd", "--guest-iommu", "lazy"}, "strict",
             "DMA", false},
        Case{"no_viommu", {"--viommu", "none"}, "off", "", true}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

// auto: /dev/kvm may open and still be unusable; whatever is chosen must
// say why and boot.
TEST(VmAcceleratorTest, AutoChoosesAnAcceleratorThatBootsAndSaysWhy) {
  std::string run_dir = absl::StrCat(::testing::TempDir(), "vm-check-auto");
  CommandResult r = VmCheck({"--viommu", "intel", "--guest-iommu", "strict"}, run_dir);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  bool kvm = r.out.find(Field("accelerator", "kvm")) != std::string::npos;
  bool tcg = r.out.find(Field("accelerator", "tcg")) != std::string::npos;
  EXPECT_TRUE(kvm || tcg) << r.out;
  EXPECT_NE(r.out.find(kvm ? "\"accelerator_reason\": \"KVM: a probe boot"
                           : "\"accelerator_reason\": \"TCG: "),
            std::string::npos)
      << r.out;
}

TEST(VmCheckUsageTest, ImpossibleConfigurationIsAUsageErrorBeforeAnyBoot) {
  CommandResult r = VmCheck({"--viommu", "none", "--guest-iommu", "lazy"}, "/tmp/vm-check-usage");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("a guest without a vIOMMU has no IOMMU to run in passthrough, lazy or "
                       "strict mode"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace iommuvm
