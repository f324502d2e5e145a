// `iommuvm vm-explain` on the libvirt domain XMLs in tests/fixtures/libvirt
// (each written in a style researchers keep: libvirt's <iommu> device,
// QEMU arguments through <qemu:commandline>, an assigned VF with pinning, a
// commented-out vIOMMU): the real CLI binary, its JSON and its errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/command_runner.h"
#include "common/json_object.h"
#include "tests/support/process_harness.h"

namespace iommuvm {
namespace {

const std::string kFixtures = IOMMUVM_SOURCE_DIR "/tests/fixtures/libvirt";

CommandResult RunTool(std::vector<std::string> argv) {
  LocalCommandRunner runner;
  CommandSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = absl::Seconds(30);
  auto r = runner.Run(spec);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : CommandResult{};
}

CommandResult Explain(const std::string& file, const std::string& format = "json") {
  return RunTool({IOMMUVM_CLI_BIN, "vm-explain", file, "--format", format});
}

google::protobuf::Struct Json(const std::string& fixture) {
  CommandResult r = Explain(kFixtures + "/" + fixture);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto json = ParseJsonObject(r.out);
  EXPECT_TRUE(json.ok()) << json.status() << "\n" << r.out;
  return json.ok() ? *json : google::protobuf::Struct{};
}

struct Expected {
  const char* fixture;
  const char* viommu;
  bool caching_mode;
  const char* requested;
  const char* expected;
  const char* nic;
  const char* vf;  // nullptr: JSON null
  double vcpus;
  double memory_mib;
  bool pinned;
};

constexpr Expected kFixturesExpected[] = {
    {"intel-iommu-device.xml", "intel", true, "strict", "strict", "virtio", nullptr, 4, 8192,
     false},
    {"intel-qemu-commandline.xml", "intel", true, "lazy", "strict", "virtio", nullptr, 8, 16384,
     false},
    {"intel-vf-pinned.xml", "intel", true, "lazy", "strict", "vfio", "0000:3b:00.2", 4, 4096, true},
    {"amd-iommu.xml", "amd", false, "lazy", "strict", "virtio", nullptr, 2, 2048, false},
    {"virtio-iommu.xml", "virtio", false, "passthrough", "passthrough", "virtio", nullptr, 2, 3072,
     false},
    {"commented-out-iommu.xml", "none", false, "strict", "off", "virtio", nullptr, 2, 4096, false},
};

TEST(VmExplainTest, EveryFixtureIsExplainedAsTheGuestWillRun) {
  for (const Expected& e : kFixturesExpected) {
    SCOPED_TRACE(e.fixture);
    google::protobuf::Struct j = Json(e.fixture);
    for (const char* key :
         {"viommu", "viommu_options", "guest_requested_mode", "expected_guest_mode", "reason",
          "nic", "vf", "vcpus", "memory_mib", "pinned"}) {
      EXPECT_EQ(j.fields().count(key), 1u) << key;
    }
    EXPECT_EQ(j.fields().size(), 10);
    EXPECT_EQ(JsonString(j, "viommu"), e.viommu);
    const google::protobuf::Struct* options = JsonObject(j, "viommu_options");
    ASSERT_NE(options, nullptr);
    for (const char* key : {"caching_mode", "intremap", "device_iotlb", "scalable_mode", "flts"}) {
      EXPECT_TRUE(JsonBool(*options, key).has_value()) << key;
    }
    EXPECT_EQ(JsonBool(*options, "caching_mode"), e.caching_mode);
    EXPECT_EQ(JsonString(j, "guest_requested_mode"), e.requested);
    EXPECT_EQ(JsonString(j, "expected_guest_mode"), e.expected);
    EXPECT_FALSE(JsonString(j, "reason").empty());
    EXPECT_EQ(JsonString(j, "nic"), e.nic);
    if (e.vf == nullptr) {
      EXPECT_TRUE(j.fields().at("vf").has_null_value());
    } else {
      EXPECT_EQ(JsonString(j, "vf"), e.vf);
    }
    EXPECT_EQ(JsonNumber(j, "vcpus"), e.vcpus);
    EXPECT_EQ(JsonNumber(j, "memory_mib"), e.memory_mib);
    EXPECT_EQ(JsonBool(j, "pinned"), e.pinned);
  }
}

TEST(VmExplainTest, ReasonsCarryTheKernelsOwnWords) {
  EXPECT_NE(JsonString(Json("intel-vf-pinned.xml"), "reason")
                .find("'DMAR: IOMMU batching disallowed due to virtualization'"),
            std::string::npos);
  EXPECT_NE(JsonString(Json("amd-iommu.xml"), "reason")
                .find("'AMD-Vi: Using strict mode due to virtualization'"),
            std::string::npos);
  google::protobuf::Struct j = Json("intel-qemu-commandline.xml");
  EXPECT_EQ(JsonBool(*JsonObject(j, "viommu_options"), "intremap"), true);
}

TEST(VmExplainTest, TableIsTheDefault) {
  CommandResult r = RunTool({IOMMUVM_CLI_BIN, "vm-explain", kFixtures + "/intel-vf-pinned.xml"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("expected_guest_mode   strict"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nic                   vfio 0000:3b:00.2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("<iommu model='intel'> (line"), std::string::npos) << r.out;
}

TEST(VmExplainTest, BrokenXmlIsRefusedWithFileLineAndColumn) {
  testing::ScratchDir dir;
  std::string path = dir / "broken.xml";
  std::ofstream(path) << "<domain type='kvm'>\n"
                         "  <os><type>hvm</type></os>\n"
                         "  <devices>\n"
                         "    <iommu model='intel'/>\n"
                         "  </device>\n"
                         "</domain>\n";
  CommandResult r = Explain(path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, path +
                       ":5:3: mismatched closing tag </device>, expected </devices> opened "
                       "at line 3\n");

  std::ofstream(dir / "no-os.xml") << "<domain type='kvm'>\n  <name>x</name>\n</domain>\n";
  r = Explain(dir / "no-os.xml");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(dir / "no-os.xml" + ":1:1: <domain> has no <os> element"), std::string::npos)
      << r.err;

  r = Explain(dir / "missing.xml");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot read"), std::string::npos) << r.err;
}

TEST(VmExplainTest, UsageErrorsExitTwo) {
  EXPECT_EQ(RunTool({IOMMUVM_CLI_BIN, "vm-explain"}).exit_code, 2);
  EXPECT_EQ(Explain(kFixtures + "/virtio-iommu.xml", "csv").exit_code, 2);
  EXPECT_EQ(Explain(kFixtures + "/virtio-iommu.xml", "yaml").exit_code, 2);
  CommandResult help = RunTool({IOMMUVM_CLI_BIN, "vm-explain", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("usage: iommuvm vm-explain FILE.xml"), std::string::npos);
  EXPECT_NE(RunTool({IOMMUVM_CLI_BIN, "--help"}).out.find("vm-explain"), std::string::npos);
}

// The fixtures are domains libvirt accepts: its own schema says so, where
// libvirt's client tools are installed.
TEST(VmExplainTest, FixturesAreValidLibvirtDomains) {
  if (!RunTool({"sh", "-c", "command -v virt-xml-validate"}).ok()) {
    GTEST_SKIP() << "virt-xml-validate is not installed (Debian: libvirt-clients), so the "
                    "fixtures are not checked against libvirt's domain schema";
  }
  for (const auto& entry : std::filesystem::directory_iterator(kFixtures)) {
    if (entry.path().extension() != ".xml") continue;
    SCOPED_TRACE(entry.path().string());
    CommandResult r = RunTool({"virt-xml-validate", entry.path().string(), "domain"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }
}

}  // namespace
}  // namespace iommuvm
