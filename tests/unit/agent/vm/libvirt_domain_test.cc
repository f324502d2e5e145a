#include "agent/vm/libvirt_domain.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "common/command_runner.h"
#include "common/xml.h"
#include "iommu/domain_xml.h"

namespace iommuvm::agent {
namespace {

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(IOMMUVM_SOURCE_DIR) + "/tests/fixtures/libvirt/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

v1::VmConfig StrictIntel() {
  v1::VmConfig vm;
  vm.set_name("vm-strict");
  vm.set_vcpus(2);
  vm.set_memory_bytes(1ull << 30);
  vm.set_viommu("intel");
  vm.set_intremap(true);
  vm.set_aw_bits(48);
  vm.set_guest_iommu(v1::IOMMU_MODE_STRICT);
  vm.set_nic("virtio");
  vm.set_kernel("/guest/vmlinuz");
  vm.set_initrd("/guest/initrd.cpio");
  return vm;
}

LibvirtLaunch Launch() {
  LibvirtLaunch l;
  l.name = "iommuvm-sut-7";
  l.accel = "tcg";
  l.console_path = "/runs/guest/console.log";
  l.bridge = "ivbr0";
  l.tap = "ivmt7";
  l.data_mac = "52:54:a0:00:00:07";
  l.control_mac = "52:54:c0:00:00:07";
  l.extra_append = "iommuvm.id=sut/vm-strict";
  return l;
}

// virt-xml-validate checks a document against libvirt's own schema.
void ExpectLibvirtAccepts(const std::string& xml) {
  LocalCommandRunner runner;
  if (!runner.Which("virt-xml-validate").ok()) {
    GTEST_SKIP() << "virt-xml-validate is not installed (libvirt-clients; scripts/setup "
                    "installs it)";
  }
  std::string path = ::testing::TempDir() + "/domain.xml";
  std::ofstream(path) << xml;
  CommandSpec spec;
  spec.argv = {"virt-xml-validate", path, "domain"};
  auto r = runner.Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->out << r->err << xml;
}

TEST(GeneratedDomainXmlTest, AStrictIntelGuestIsWhatTheQemuBackendWouldRun) {
  auto xml = GeneratedDomainXml(StrictIntel(), Launch());
  ASSERT_TRUE(xml.ok()) << xml.status();
  // Read back as vm-explain reads any domain: the same machine and mode.
  auto read = iommu::ReadDomainXml(*xml, "generated");
  ASSERT_TRUE(read.ok()) << read.status() << *xml;
  EXPECT_EQ(read->name, "iommuvm-sut-7");
  EXPECT_EQ(read->viommu, iommu::Viommu::kIntel);
  EXPECT_FALSE(read->viommu_options.caching_mode);
  EXPECT_TRUE(read->viommu_options.intremap);
  EXPECT_EQ(read->vcpus, 2u);
  EXPECT_EQ(read->memory_kib, 1024u * 1024u);
  EXPECT_TRUE(read->virtio_nic_translated);
  EXPECT_EQ(read->guest.expected, v1::IOMMU_MODE_STRICT);
  ASSERT_TRUE(read->cmdline.has_value());
  EXPECT_TRUE(absl::StrContains(*read->cmdline, "intel_iommu=on iommu.strict=1")) << *read->cmdline;
  EXPECT_TRUE(absl::StrContains(*read->cmdline, "iommuvm.id=sut/vm-strict")) << *read->cmdline;
  EXPECT_TRUE(absl::StrContains(*xml, "<domain type=\"qemu\">")) << *xml;
  EXPECT_TRUE(absl::StrContains(*xml, "<target dev=\"ivmt7\"/>")) << *xml;
  EXPECT_TRUE(absl::StrContains(*xml, "<source path=\"/runs/guest/console.log\"/>")) << *xml;
  EXPECT_TRUE(absl::StrContains(*xml, "<interface type=\"user\">")) << *xml;
  EXPECT_TRUE(absl::StrContains(*xml, "<on_reboot>destroy</on_reboot>")) << *xml;
  ExpectLibvirtAccepts(*xml);
}

TEST(GeneratedDomainXmlTest, HugepagesPinnedVfAndVirtioIommuAreLibvirtsOwnElements) {
  v1::VmConfig vm = StrictIntel();
  vm.set_hugepages(true);
  vm.set_caching_mode(true);
  vm.set_nic("vfio-vf");
  vm.set_vf_bdf("0000:3b:00.2");
  auto xml = GeneratedDomainXml(vm, Launch());
  ASSERT_TRUE(xml.ok()) << xml.status();
  EXPECT_TRUE(absl::StrContains(*xml, "<hugepages/>")) << *xml;
  auto read = iommu::ReadDomainXml(*xml, "generated");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->nic, iommu::GuestNic::kVfio);
  EXPECT_EQ(read->vf, "0000:3b:00.2");
  ExpectLibvirtAccepts(*xml);

  v1::VmConfig virtio = StrictIntel();
  virtio.set_viommu("virtio");
  auto v = GeneratedDomainXml(virtio, Launch());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(absl::StrContains(*v, "<iommu model=\"virtio\"/>")) << *v;
  ExpectLibvirtAccepts(*v);
}

TEST(GeneratedDomainXmlTest, WhatLibvirtOrQemuCannotRunIsRefused) {
  v1::VmConfig amd = StrictIntel();
  amd.set_viommu("amd");
  auto a = GeneratedDomainXml(amd, Launch());
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(absl::StrContains(a.status().message(), "<iommu model='amd'>")) << a.status();
  v1::VmConfig none = StrictIntel();
  none.set_viommu("none");
  EXPECT_FALSE(GeneratedDomainXml(none, Launch()).ok());  // strict without a vIOMMU
}

TEST(DomainFromTemplateTest, TheUsersDomainKeepsItsDevicesAndGetsTheRunsModeNameAndConsole) {
  v1::VmConfig vm = StrictIntel();
  vm.set_caching_mode(true);  // what the template's -device intel-iommu says
  auto xml = DomainFromTemplate(Fixture("intel-qemu-commandline.xml"), "t.xml", vm, Launch());
  ASSERT_TRUE(xml.ok()) << xml.status();
  auto read = iommu::ReadDomainXml(*xml, "made");
  ASSERT_TRUE(read.ok()) << read.status() << *xml;
  EXPECT_EQ(read->name, "iommuvm-sut-7");
  EXPECT_EQ(read->viommu, iommu::Viommu::kIntel);  // still its <qemu:commandline>
  ASSERT_TRUE(read->cmdline.has_value());
  // The user's tokens stay; their IOMMU tokens give way to the run's.
  EXPECT_TRUE(absl::StrContains(*read->cmdline, "root=/dev/vda1")) << *read->cmdline;
  EXPECT_FALSE(absl::StrContains(*read->cmdline, "iommu.strict=0")) << *read->cmdline;
  EXPECT_TRUE(absl::StrContains(*read->cmdline, "iommu.strict=1")) << *read->cmdline;
  EXPECT_EQ(read->guest.expected, v1::IOMMU_MODE_STRICT);
  EXPECT_TRUE(absl::StrContains(*xml, "/var/lib/libvirt/images/guest.img")) << *xml;  // its disk
  EXPECT_TRUE(absl::StrContains(*xml, "<kernel>/boot/vmlinuz-guest</kernel>")) << *xml;
  // Its bridge NIC is the data NIC, with the MAC the guest looks for.
  EXPECT_TRUE(absl::StrContains(*xml, "<source bridge=\"br0\"/>")) << *xml;
  EXPECT_TRUE(absl::StrContains(*xml, "<mac address=\"52:54:a0:00:00:07\"/>")) << *xml;
  EXPECT_TRUE(absl::StrContains(*xml, "<source path=\"/runs/guest/console.log\"/>")) << *xml;
  EXPECT_TRUE(absl::StrContains(*xml, "<domain type=\"qemu\"")) << *xml;
  ExpectLibvirtAccepts(*xml);
}

TEST(DomainFromTemplateTest, ATemplateWithoutKernelOrNicGetsTheGuestImageAndTheBridge) {
  std::string bare = R"(<domain type="kvm">
  <name>bare</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit="MiB">512</memory>
  <os><type arch="x86_64" machine="q35">hvm</type><boot dev="hd"/></os>
  <devices><iommu model="intel"><driver intremap="on"/></iommu>
    <serial type="pty"/><console type="pty"/></devices>
</domain>)";
  auto xml = DomainFromTemplate(bare, "bare.xml", StrictIntel(), Launch());
  ASSERT_TRUE(xml.ok()) << xml.status();
  EXPECT_FALSE(absl::StrContains(*xml, "<uuid>")) << *xml;
  EXPECT_FALSE(absl::StrContains(*xml, "pty")) << *xml;
  EXPECT_FALSE(absl::StrContains(*xml, "<boot")) << *xml;
  EXPECT_TRUE(absl::StrContains(*xml, "<kernel>/guest/vmlinuz</kernel>")) << *xml;
  EXPECT_TRUE(absl::StrContains(*xml, "<initrd>/guest/initrd.cpio</initrd>")) << *xml;
  EXPECT_TRUE(absl::StrContains(*xml, "<source bridge=\"ivbr0\"/>")) << *xml;
  ExpectLibvirtAccepts(*xml);
}

TEST(DomainFromTemplateTest, BadTemplatesAreRefusedNamingTheFile) {
  // Not XML.
  auto broken =
      DomainFromTemplate("<domain><name>x</domain>", "broken.xml", StrictIntel(), Launch());
  ASSERT_FALSE(broken.ok());
  EXPECT_TRUE(absl::StartsWith(broken.status().message(), "broken.xml:1:")) << broken.status();
  // No <os>.
  auto no_os =
      DomainFromTemplate("<domain><name>x</name></domain>", "no-os.xml", StrictIntel(), Launch());
  ASSERT_FALSE(no_os.ok());
  EXPECT_TRUE(absl::StrContains(no_os.status().message(), "no-os.xml")) << no_os.status();
  // A vIOMMU the spec did not say.
  v1::VmConfig none = StrictIntel();
  none.set_viommu("virtio");
  auto other = DomainFromTemplate(Fixture("intel-iommu-device.xml"), "i.xml", none, Launch());
  ASSERT_FALSE(other.ok());
  EXPECT_TRUE(absl::StrContains(other.status().message(), "spec's viommu is virtio"))
      << other.status();
}

TEST(WithoutIommuTokensTest, KeepsEverythingButIommuAndIommuvmSettings) {
  EXPECT_EQ(WithoutIommuTokens("root=/dev/vda1  intel_iommu=on,sm_on iommu=pt amd_iommu=off "
                               "iommu.strict=0 iommu.passthrough=1 iommuvm.id=x quiet"),
            "root=/dev/vda1 quiet");
}

TEST(WriteXmlTest, WhatIsWrittenReadsBackTheSame) {
  auto parsed = ParseXml(Fixture("intel-vf-pinned.xml"), "f");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  std::string once = WriteXml(*parsed);
  auto again = ParseXml(once, "written");
  ASSERT_TRUE(again.ok()) << again.status() << once;
  EXPECT_EQ(WriteXml(*again), once);
  XmlElement e;
  e.name = "cmdline";
  e.text = "a<b & \"c\"";
  e.SetAttribute("k", "1\"2");
  auto round = ParseXml(WriteXml(e));
  ASSERT_TRUE(round.ok()) << round.status();
  EXPECT_EQ(round->Text(), "a<b & \"c\"");
  EXPECT_EQ(round->Attribute("k"), "1\"2");
}

}  // namespace
}  // namespace iommuvm::agent
