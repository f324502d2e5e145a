#include "iommu/domain_xml.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace iommuvm::iommu {
namespace {

using ::testing::HasSubstr;

// A domain with `os` inside <os> and `devices` inside <devices>.
std::string Domain(const std::string& os, const std::string& devices, const std::string& extra = "",
                   const std::string& root_attrs = "") {
  return "<domain type='kvm'" + root_attrs +
         ">\n"
         "  <name>g</name>\n"
         "  <memory unit='KiB'>4194304</memory>\n"
         "  <vcpu placement='static'>2</vcpu>\n"
         "  <os>\n"
         "    <type arch='x86_64' machine='q35'>hvm</type>\n" +
         os + "  </os>\n  <devices>\n" + devices + "  </devices>\n" + extra + "</domain>\n";
}

constexpr char kQemuNs[] = " xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'";
constexpr char kVirtioNic[] =
    "<interface type='network'><source network='default'/><model type='virtio'/>"
    "<driver iommu='on'/></interface>\n";

DomainXml Read(const std::string& xml) {
  absl::StatusOr<DomainXml> d = ReadDomainXml(xml, "vm.xml");
  EXPECT_TRUE(d.ok()) << d.status() << "\n" << xml;
  return d.ok() ? *d : DomainXml{};
}

std::string ErrorOf(const std::string& xml) {
  absl::StatusOr<DomainXml> d = ReadDomainXml(xml, "vm.xml");
  EXPECT_FALSE(d.ok()) << xml;
  return d.ok() ? "" : std::string(d.status().message());
}

TEST(DomainXmlTest, LibvirtIommuDeviceWithCachingMode) {
  DomainXml d = Read(Domain(
      "<cmdline>console=ttyS0 intel_iommu=on iommu.strict=1</cmdline>\n",
      std::string(kVirtioNic) + "<iommu model='intel'><driver caching_mode='on'/></iommu>\n"));
  EXPECT_EQ(d.name, "g");
  EXPECT_EQ(d.viommu, Viommu::kIntel);
  EXPECT_EQ(d.viommu_from, "<iommu model='intel'> (line 11)");
  EXPECT_TRUE(d.viommu_options.caching_mode);
  EXPECT_FALSE(d.viommu_options.intremap);
  EXPECT_EQ(d.requested.mode, v1::IOMMU_MODE_STRICT);
  EXPECT_EQ(d.guest.expected, v1::IOMMU_MODE_STRICT);
  EXPECT_EQ(d.nic, GuestNic::kVirtio);
  EXPECT_TRUE(d.virtio_nic_translated);
  EXPECT_EQ(d.vf, "");
  EXPECT_EQ(d.vcpus, 2u);
  EXPECT_EQ(d.memory_kib, 4194304u);
  EXPECT_FALSE(d.pinned);
}

TEST(DomainXmlTest, QemuCommandlineIntelIommu) {
  DomainXml d = Read(Domain(
      "<cmdline>intel_iommu=on iommu.strict=0</cmdline>\n", kVirtioNic,
      "  <qemu:commandline>\n"
      "    <qemu:arg value='-device'/>\n"
      "    <qemu:arg value='intel-iommu,caching-mode=on,intremap=on,x-scalable-mode=true'/>\n"
      "  </qemu:commandline>\n",
      kQemuNs));
  EXPECT_EQ(d.viommu, Viommu::kIntel);
  EXPECT_THAT(d.viommu_from, HasSubstr("-device intel-iommu,caching-mode=on"));
  EXPECT_TRUE(d.viommu_options.caching_mode);
  EXPECT_TRUE(d.viommu_options.intremap);
  EXPECT_TRUE(d.viommu_options.scalable_mode);
  EXPECT_FALSE(d.viommu_options.flts);
  EXPECT_EQ(d.requested.mode, v1::IOMMU_MODE_LAZY);
  EXPECT_EQ(d.guest.expected, v1::IOMMU_MODE_STRICT);
  EXPECT_THAT(d.guest.reason, HasSubstr("IOMMU batching disallowed due to virtualization"));
}

TEST(DomainXmlTest, QemuArgumentsInTheirOtherForms) {
  // Any prefix bound to libvirt's QEMU namespace; JSON -device; -global.
  DomainXml d =
      Read(Domain("", "",
                  "  <q:commandline>\n"
                  "    <q:arg value='-global'/><q:arg value='intel-iommu.device-iotlb=on'/>\n"
                  "    <q:arg value='-device'/>\n"
                  "    <q:arg value='{\"driver\": \"intel-iommu\", \"caching-mode\": true, "
                  "\"x-flts\": \"on\"}'/>\n"
                  "    <q:arg value='-device'/><q:arg value='vfio-pci,host=3b:00.4'/>\n"
                  "  </q:commandline>\n",
                  " xmlns:q='http://libvirt.org/schemas/domain/qemu/1.0'"));
  EXPECT_EQ(d.viommu, Viommu::kIntel);
  EXPECT_TRUE(d.viommu_options.caching_mode);
  EXPECT_TRUE(d.viommu_options.device_iotlb);
  EXPECT_TRUE(d.viommu_options.flts);
  EXPECT_EQ(d.nic, GuestNic::kVfio);
  EXPECT_EQ(d.vf, "0000:3b:00.4");
}

TEST(DomainXmlTest, AssignedVfPinnedDirectBootLazyRunsStrict) {
  DomainXml d = Read(Domain(
      "<kernel>/boot/vmlinuz</kernel>\n<cmdline>console=ttyS0 intel_iommu=on "
      "iommu.strict=0</cmdline>\n",
      "<hostdev mode='subsystem' type='pci' managed='yes'>\n"
      "  <source><address domain='0x0000' bus='0x3b' slot='0x00' function='0x2'/></source>\n"
      "</hostdev>\n"
      "<iommu model='intel'><driver intremap='on' caching_mode='on'/></iommu>\n",
      "  <cputune><vcpupin vcpu='0' cpuset='2'/><vcpupin vcpu='1' cpuset='3'/></cputune>\n"));
  EXPECT_EQ(d.nic, GuestNic::kVfio);
  EXPECT_EQ(d.vf, "0000:3b:00.2");
  EXPECT_TRUE(d.pinned);
  EXPECT_EQ(d.requested.mode, v1::IOMMU_MODE_LAZY);
  EXPECT_TRUE(d.guest.starts);
  EXPECT_EQ(d.guest.expected, v1::IOMMU_MODE_STRICT);
}

TEST(DomainXmlTest, InterfaceTypeHostdevIsAnAssignedDevice) {
  DomainXml d =
      Read(Domain("",
                  "<interface type='hostdev' managed='yes'><source><address type='pci' domain='0' "
                  "bus='59' slot='0x1f' function='7'/></source></interface>\n"
                  "<iommu model='intel'/>\n"));
  EXPECT_EQ(d.nic, GuestNic::kVfio);
  EXPECT_EQ(d.vf, "0000:3b:1f.7");  // libvirt reads numbers as C does: 59 is 0x3b
  EXPECT_FALSE(d.guest.starts);     // VFIO behind intel-iommu without caching mode
  EXPECT_THAT(d.guest.reason, HasSubstr("only with caching-mode=on"));
}

TEST(DomainXmlTest, AmdIommuLazyRunsStrict) {
  DomainXml d = Read(Domain("<cmdline>iommu.strict=0</cmdline>\n", kVirtioNic,
                            "  <qemu:commandline><qemu:arg value='-device'/>"
                            "<qemu:arg value='amd-iommu,intremap=on'/></qemu:commandline>\n",
                            kQemuNs));
  EXPECT_EQ(d.viommu, Viommu::kAmd);
  EXPECT_EQ(d.guest.expected, v1::IOMMU_MODE_STRICT);
  EXPECT_THAT(d.guest.reason, HasSubstr("AMD-Vi: Using strict mode due to virtualization"));
}

TEST(DomainXmlTest, VirtioIommu) {
  DomainXml d = Read(Domain("<cmdline>iommu.strict=1</cmdline>\n",
                            "<interface type='network'><model type='virtio'/></interface>\n"
                            "<iommu model='virtio'/>\n"));
  EXPECT_EQ(d.viommu, Viommu::kVirtio);
  EXPECT_EQ(d.guest.expected, v1::IOMMU_MODE_STRICT);
  EXPECT_FALSE(d.virtio_nic_translated);
  EXPECT_THAT(d.guest.reason, HasSubstr("bypasses the vIOMMU"));
}

TEST(DomainXmlTest, CommentedOutIommuIsIgnored) {
  DomainXml d = Read(Domain("<cmdline>intel_iommu=on iommu.strict=1</cmdline>\n",
                            std::string(kVirtioNic) +
                                "<!-- <iommu model='intel'><driver caching_mode='on'/></iommu> "
                                "-->\n",
                            "  <!-- <qemu:commandline> is not here either -->\n"));
  EXPECT_EQ(d.viommu, Viommu::kNone);
  EXPECT_EQ(d.requested.mode, v1::IOMMU_MODE_STRICT);
  EXPECT_EQ(d.guest.expected, v1::IOMMU_MODE_OFF);
  EXPECT_THAT(d.guest.reason, HasSubstr("without a vIOMMU"));
}

TEST(DomainXmlTest, NoCmdlineLeavesTheModeToTheGuestsBootloader) {
  DomainXml d = Read(Domain("<boot dev='hd'/>\n", "<iommu model='intel'/>\n"));
  EXPECT_FALSE(d.cmdline.has_value());
  EXPECT_EQ(d.requested.mode, v1::IOMMU_MODE_UNSPECIFIED);
  EXPECT_EQ(d.guest.expected, v1::IOMMU_MODE_UNSPECIFIED);
  EXPECT_THAT(d.guest.reason, HasSubstr("no <os><cmdline>"));
  EXPECT_EQ(d.nic, GuestNic::kNone);
}

TEST(DomainXmlTest, MemoryUnitsAsLibvirtScalesThem) {
  struct Case {
    const char* value;
    const char* unit;
    uint64_t kib;
  } cases[] = {
      {"4194304", "", 4194304},
      {"4194304", "KiB", 4194304},
      {"4096", "k", 4096},
      {"4096", "K", 4096},
      {"1024000", "KB", 1000000},
      {"4096", "MiB", 4194304},
      {"4096", "M", 4194304},
      {"4096", "MB", 4000000},
      {"8", "GiB", 8388608},
      {"8", "G", 8388608},
      {"8", "GB", 7812500},
      {"1", "TiB", 1073741824},
      {"1", "T", 1073741824},
      {"1", "TB", 976562500},
      {"1048576", "b", 1024},
      {"1048576", "bytes", 1024},
      {"1025", "bytes", 2},
      {"1", "gib", 1048576},
      {"1", "KB", 1},  // 1000 bytes round up to one KiB
  };
  for (const Case& c : cases) {
    absl::StatusOr<uint64_t> kib = MemoryKib(c.value, c.unit);
    ASSERT_TRUE(kib.ok()) << c.value << " " << c.unit << ": " << kib.status();
    EXPECT_EQ(*kib, c.kib) << c.value << " " << c.unit;
  }
  EXPECT_THAT(MemoryKib("8", "GBB").status().message(), HasSubstr("unknown unit 'GBB'"));
  EXPECT_THAT(MemoryKib("8", "Gi").status().message(), HasSubstr("unknown unit 'Gi'"));
  EXPECT_THAT(MemoryKib("-8", "GiB").status().message(), HasSubstr("not a size"));
  EXPECT_THAT(MemoryKib("99999999999", "EiB").status().message(), HasSubstr("too large"));

  DomainXml d = Read("<domain><os/><memory unit='GiB'>16</memory></domain>");
  EXPECT_EQ(d.memory_kib, 16u << 20);
  d = Read(
      "<domain><os/><cpu><numa><cell id='0' cpus='0-1' memory='1' unit='GiB'/>"
      "<cell id='1' cpus='2-3' memory='524288'/></numa></cpu></domain>");
  EXPECT_EQ(d.memory_kib, (1u << 20) + 524288u);
  d = Read("<domain><os/></domain>");
  EXPECT_FALSE(d.memory_kib.has_value());
  EXPECT_EQ(d.vcpus, 1u);  // libvirt's default
}

TEST(DomainXmlTest, ErrorsNameTheFileAndThePlace) {
  EXPECT_EQ(ErrorOf("<domain>\n  <devices>\n  </device>\n</domain>"),
            "vm.xml:3:3: mismatched closing tag </device>, expected </devices> opened at line 2");
  EXPECT_EQ(ErrorOf("<network><name>default</name></network>"),
            "vm.xml:1:1: the root element is <network>, not <domain>: not a libvirt domain XML");
  EXPECT_THAT(ErrorOf("<domain>\n  <name>x</name>\n</domain>"),
              HasSubstr("vm.xml:1:1: <domain> has no <os> element"));
  EXPECT_EQ(ErrorOf("<domain><os/>\n<vcpu>four</vcpu></domain>"),
            "vm.xml:2:1: <vcpu> must be a positive whole number, found 'four'");
  EXPECT_THAT(ErrorOf("<domain><os/>\n<memory unit='GBytes'>4</memory></domain>"),
              HasSubstr("vm.xml:2:1: <memory>: unknown unit 'GBytes'"));
  EXPECT_EQ(ErrorOf(Domain("", "<iommu model='intel'><driver caching_mode='yes'/></iommu>\n")),
            "vm.xml:9:22: 'yes' is not a value of caching_mode in <driver> (on or off)");
  EXPECT_THAT(ErrorOf(Domain("", "<iommu model='smmuv3'/>\n")),
              HasSubstr("vm.xml:9:1: <iommu model='smmuv3'> is Arm's SMMUv3"));
  EXPECT_THAT(ErrorOf(Domain("", "<iommu model='intel'/>\n<iommu model='virtio'/>\n")),
              HasSubstr("vm.xml:10:1: a second vIOMMU (virtio); the domain already has <iommu "
                        "model='intel'> (line 9) and QEMU emulates one"));
  EXPECT_THAT(ErrorOf(Domain("",
                             "<hostdev mode='subsystem' type='pci'><source><address bus='0x100'/>"
                             "</source></hostdev>\n")),
              HasSubstr("'0x100' is not a PCI bus (0 to 0xff)"));
  EXPECT_THAT(ErrorOf(Domain("", "",
                             "  <qemu:commandline><qemu:arg value='-device'/>"
                             "<qemu:arg value='intel-iommu,caching-mode=maybe'/>"
                             "</qemu:commandline>\n",
                             kQemuNs)),
              HasSubstr("'maybe' is not a value of intel-iommu's caching-mode (on or off)"));
  EXPECT_THAT(ErrorOf(Domain("", "",
                             "  <qemu:commandline><qemu:arg value='-device'/>"
                             "</qemu:commandline>\n",
                             kQemuNs)),
              HasSubstr("'-device' is the last <qemu:arg>"));
}

// libvirt reads <qemu:commandline> only under its namespace: without the
// declaration it drops the element, so the vIOMMU there would silently
// not exist.
TEST(DomainXmlTest, QemuCommandlineWithoutItsNamespaceIsAnError) {
  EXPECT_THAT(ErrorOf(Domain("", "",
                             "  <qemu:commandline><qemu:arg value='-device'/>"
                             "<qemu:arg value='intel-iommu'/></qemu:commandline>\n")),
              HasSubstr("vm.xml:10:3: <qemu:commandline> has no namespace: libvirt ignores it "
                        "unless <domain> declares "
                        "xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'"));
  // Another namespace's commandline is not QEMU's.
  DomainXml d = Read(Domain("", "",
                            "  <x:commandline><x:arg value='-device'/>"
                            "<x:arg value='intel-iommu'/></x:commandline>\n",
                            " xmlns:x='urn:other'"));
  EXPECT_EQ(d.viommu, Viommu::kNone);
}

}  // namespace
}  // namespace iommuvm::iommu
