// `iommuvm-agent inspect` on the project's own captures of real guests
// (tests/fixtures/sysfs, recorded by scripts/record-captures with Debian's
// kernel under QEMU): each must be classified as the kernel's and QEMU's
// rules say, including the two traps where lazy was asked for and the
// kernel ran strict (intel-iommu with caching mode; amd-iommu in a guest).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/command_runner.h"
#include "tests/support/process_harness.h"

namespace iommuvm {
namespace {

struct Capture {
  const char* name;
  const char* requested;
  const char* detected;
};

constexpr Capture kCaptures[] = {
    {"intel-strict", "strict", "strict"},
    {"intel-lazy-cm", "lazy", "strict"},
    {"intel-lazy", "lazy", "lazy"},
    {"intel-pt", "passthrough", "passthrough"},
    {"intel-off", "off", "off"},
    {"amd-strict", "strict", "strict"},
    {"amd-lazy", "lazy", "strict"},
    {"amd-pt", "passthrough", "passthrough"},
    {"no-viommu", "kernel default", "off"},
};

CommandResult Inspect(std::vector<std::string> args) {
  LocalCommandRunner runner;
  CommandSpec spec;
  spec.argv = {IOMMUVM_AGENT_BIN, "inspect"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.timeout = absl::Seconds(30);
  auto r = runner.Run(spec);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : CommandResult{};
}

// The captures as the guest had them. git keeps no empty directories, and an
// empty /sys/class/iommu ("no IOMMU units") reads differently from a missing
// one ("cannot tell off from an unreadable /sys"), so each capture lists its
// empty directories in empty-dirs.txt and they are made again in a copy.
class InspectTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    namespace fs = std::filesystem;
    scratch_ = new testing::ScratchDir();
    const fs::path source = IOMMUVM_SOURCE_DIR "/tests/fixtures/sysfs";
    fs::copy(source, scratch_->path(), fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    for (const Capture& c : kCaptures) {
      std::ifstream list(source / c.name / "empty-dirs.txt");
      for (std::string dir; std::getline(list, dir);) {
        if (!dir.empty()) fs::create_directories(fs::path(scratch_->path()) / c.name / dir);
      }
    }
  }
  static void TearDownTestSuite() {
    delete scratch_;
    scratch_ = nullptr;
  }
  static std::string Root(const std::string& name) { return *scratch_ / name; }

 private:
  static testing::ScratchDir* scratch_;
};

testing::ScratchDir* InspectTest::scratch_ = nullptr;

TEST_F(InspectTest, EveryCaptureIsClassifiedAsTheKernelRan) {
  for (const Capture& c : kCaptures) {
    SCOPED_TRACE(c.name);
    std::string root = Root(c.name);
    ASSERT_TRUE(std::filesystem::is_directory(root + "/proc")) << "scripts/record-captures";
    CommandResult r = Inspect({"--sysroot", root, "--kernel-log", root + "/dmesg.txt",
                               "--format", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find(std::string("\"requested_mode\": \"") + c.requested + "\""),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find(std::string("\"detected_mode\": \"") + c.detected + "\""),
              std::string::npos)
        << r.out;
  }
}

TEST_F(InspectTest, AmdGuestCaptureExplainsWhyLazyRanStrict) {
  std::string root = Root("amd-lazy");
  CommandResult r = Inspect({"--sysroot", root, "--kernel-log", root + "/dmesg.txt"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("detected mode   strict"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kernel log: AMD-Vi: Using strict mode due to virtualization"),
            std::string::npos)
      << r.out;
}

TEST_F(InspectTest, CachingModeCaptureExplainsWhyLazyRanStrict) {
  std::string root = Root("intel-lazy-cm");
  CommandResult r = Inspect({"--sysroot", root, "--kernel-log", root + "/dmesg.txt"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("detected mode   strict"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("group 4 type DMA -> strict"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kernel log: DMAR: IOMMU batching disallowed due to virtualization"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("the command line asks for lazy but the node runs strict"),
            std::string::npos)
      << r.out;
}

TEST(InspectUsageTest, HelpAndBadArguments) {
  CommandResult help = Inspect({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--kernel-log FILE"), std::string::npos);
  CommandResult bad = Inspect({"--format", "xml"});
  EXPECT_EQ(bad.exit_code, 2);
  CommandResult missing = Inspect({"--kernel-log", "/nonexistent/dmesg.txt"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("cannot read kernel log /nonexistent/dmesg.txt"), std::string::npos);
}

}  // namespace
}  // namespace iommuvm
