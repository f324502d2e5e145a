#include "agent/vm/libvirt_domain.h"

#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/vm/qemu_command.h"
#include "common/xml.h"
#include "iommu/cmdline.h"
#include "iommu/domain_xml.h"

namespace iommuvm::agent {
namespace {

const char* OnOff(bool b) { return b ? "on" : "off"; }

XmlElement Element(absl::string_view name,
                   std::vector<std::pair<std::string, std::string>> attrs = {},
                   absl::string_view text = "") {
  XmlElement e;
  e.name = std::string(name);
  e.attributes = std::move(attrs);
  e.text = std::string(text);
  return e;
}

XmlElement* Add(XmlElement* parent, XmlElement child) {
  parent->children.push_back(std::move(child));
  return &parent->children.back();
}

// The guest's serial console, in a file: iommuvm watches it for the guest
// agent's "connected" line and keeps its tail for errors.
XmlElement FileSerial(const std::string& path) {
  XmlElement serial = Element("serial", {{"type", "file"}});
  Add(&serial, Element("source", {{"path", path}}));
  Add(&serial, Element("target", {{"port", "0"}}));
  return serial;
}

// The guest agent's NIC: QEMU user networking, never behind the vIOMMU
// (no <driver iommu='on'>), as in the QEMU backend.
XmlElement ControlNic(const std::string& mac) {
  XmlElement nic = Element("interface", {{"type", "user"}});
  Add(&nic, Element("mac", {{"address", mac}}));
  Add(&nic, Element("model", {{"type", "virtio"}}));
  return nic;
}

// The data NIC on the host's data-plane bridge, translated by the vIOMMU
// when there is one (QEMU's iommu_platform=on; ats=on is device-iotlb).
XmlElement BridgeNic(const v1::VmConfig& vm, const LibvirtLaunch& l) {
  XmlElement nic = Element("interface", {{"type", "bridge"}});
  Add(&nic, Element("source", {{"bridge", l.bridge}}));
  if (!l.tap.empty()) Add(&nic, Element("target", {{"dev", l.tap}}));
  if (!l.data_mac.empty()) Add(&nic, Element("mac", {{"address", l.data_mac}}));
  Add(&nic, Element("model", {{"type", "virtio"}}));
  if (vm.viommu() != "none") {
    XmlElement driver = Element("driver", {{"iommu", "on"}});
    if (vm.viommu() == "intel" && vm.device_iotlb()) driver.SetAttribute("ats", "on");
    Add(&nic, std::move(driver));
  }
  return nic;
}

// An assigned VF (libvirt's <hostdev>, not managed: iommuvm binds it).
absl::StatusOr<XmlElement> VfHostdev(const std::string& bdf) {
  std::vector<std::string> parts = absl::StrSplit(bdf, absl::ByAnyChar(":."));
  if (parts.size() == 3) parts.insert(parts.begin(), "0000");
  if (parts.size() != 4) {
    return absl::InvalidArgumentError(absl::StrCat("vf_bdf '", bdf, "' is not a PCI address"));
  }
  XmlElement dev = Element("hostdev", {{"mode", "subsystem"}, {"type", "pci"}, {"managed", "no"}});
  XmlElement* source = Add(&dev, Element("source"));
  Add(source, Element("address", {{"domain", "0x" + parts[0]},
                                  {"bus", "0x" + parts[1]},
                                  {"slot", "0x" + parts[2]},
                                  {"function", "0x" + parts[3]}}));
  return dev;
}

XmlElement IommuDevice(const v1::VmConfig& vm) {
  XmlElement iommu = Element("iommu", {{"model", vm.viommu()}});
  if (vm.viommu() == "intel") {
    XmlElement driver = Element("driver", {{"intremap", OnOff(vm.intremap())},
                                           {"caching_mode", OnOff(vm.caching_mode())},
                                           {"iotlb", OnOff(vm.device_iotlb())}});
    if (vm.aw_bits() != 0) driver.SetAttribute("aw_bits", absl::StrCat(vm.aw_bits()));
    Add(&iommu, std::move(driver));
  }
  return iommu;
}

std::string DomainType(const std::string& accel) { return accel == "tcg" ? "qemu" : "kvm"; }

absl::Status TemplateError(absl::string_view source, const XmlElement& at, absl::string_view why) {
  return absl::InvalidArgumentError(XmlErrorAt(source, at.line, at.column, why));
}

}  // namespace

std::string WithoutIommuTokens(absl::string_view user) {
  std::vector<absl::string_view> kept;
  for (absl::string_view token :
       absl::StrSplit(user, absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
    if (!absl::StartsWith(token, "iommuvm.")) kept.push_back(token);
  }
  // The mode tokens are the ones kexec and grub replace (iommu/cmdline).
  return iommu::ReplaceModeTokens(absl::StrJoin(kept, " "), "");
}

absl::StatusOr<std::string> GeneratedDomainXml(const v1::VmConfig& vm,
                                               const LibvirtLaunch& launch) {
  if (vm.translation() == "nested") {
    return absl::InvalidArgumentError(
        "libvirt's <iommu> cannot ask for nested translation: use backend qemu");
  }
  if (vm.viommu() == "amd") {
    return absl::InvalidArgumentError(
        "libvirt has no <iommu model='amd'>: use backend qemu, or a libvirt_xml template that "
        "adds -device amd-iommu in <qemu:commandline>");
  }
  // The checks the QEMU backend makes (vIOMMU, NIC, aw_bits, guest mode).
  QemuLaunch check;
  check.accel = launch.accel;
  check.hugetlbfs = vm.hugepages() ? "/dev/hugepages" : "";
  auto argv = QemuCommandLine(vm, check);
  if (!argv.ok()) return argv.status();
  auto cmdline = GuestCmdline(vm);
  if (!cmdline.ok()) return cmdline.status();

  XmlElement d = Element("domain", {{"type", DomainType(launch.accel)}});
  Add(&d, Element("name", {}, launch.name));
  Add(&d, Element("memory", {{"unit", "MiB"}},
                  absl::StrCat(std::max<uint64_t>(256, vm.memory_bytes() >> 20))));
  Add(&d, Element("vcpu", {}, absl::StrCat(std::max<uint32_t>(1, vm.vcpus()))));
  if (vm.hugepages()) Add(&d, Element("memoryBacking"))->AddChild("hugepages");
  XmlElement* os = Add(&d, Element("os"));
  Add(os, Element("type", {{"arch", "x86_64"}, {"machine", "q35"}}, "hvm"));
  Add(os, Element("kernel", {}, vm.kernel()));
  if (!vm.initrd().empty()) Add(os, Element("initrd", {}, vm.initrd()));
  std::string line = *cmdline;
  if (!launch.extra_append.empty()) absl::StrAppend(&line, " ", launch.extra_append);
  Add(os, Element("cmdline", {}, line));
  XmlElement* features = Add(&d, Element("features"));
  features->AddChild("acpi");
  // The split irqchip interrupt remapping needs (QEMU's kernel-irqchip=split).
  Add(features, Element("ioapic", {{"driver", "qemu"}}));
  // Under KVM the host's CPU; under TCG the most QEMU can emulate.
  Add(&d, Element("cpu", {{"mode", launch.accel == "tcg" ? "maximum" : "host-passthrough"}}));
  Add(&d, Element("on_reboot", {}, "destroy"));
  XmlElement* devices = Add(&d, Element("devices"));
  if (!launch.emulator.empty()) Add(devices, Element("emulator", {}, launch.emulator));
  if (vm.viommu() != "none") Add(devices, IommuDevice(vm));
  if (vm.nic() == "vfio-vf") {
    auto vf = VfHostdev(vm.vf_bdf());
    if (!vf.ok()) return vf.status();
    Add(devices, std::move(*vf));
  } else {
    Add(devices, BridgeNic(vm, launch));
  }
  if (!launch.control_mac.empty()) Add(devices, ControlNic(launch.control_mac));
  Add(devices, FileSerial(launch.console_path));
  Add(devices, Element("memballoon", {{"model", "none"}}));
  return WriteXml(d);
}

absl::StatusOr<std::string> DomainFromTemplate(absl::string_view text, absl::string_view source,
                                               const v1::VmConfig& vm,
                                               const LibvirtLaunch& launch) {
  // What the template asks for, read as vm-explain reads it.
  auto asked = iommu::ReadDomainXml(text, source);
  if (!asked.ok()) return asked.status();
  if (iommu::ViommuName(asked->viommu) != vm.viommu()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": the template's vIOMMU is ",
        asked->viommu_from.empty() ? "none" : asked->viommu_from, " but the spec's viommu is ",
        vm.viommu(), "; the spec's guest-mode checks rely on it, so make them agree"));
  }
  auto parsed = ParseXml(text, source);
  if (!parsed.ok()) return parsed.status();
  XmlElement d = std::move(*parsed);
  d.SetAttribute("type", DomainType(launch.accel));
  d.MutableChild("name")->text = launch.name;
  d.RemoveChildren("uuid");  // libvirt gives each run's domain its own

  XmlElement* os = d.MutableChild("os");
  if (os->Child("kernel") == nullptr) {
    if (vm.kernel().empty()) {
      return TemplateError(source, *os,
                           "the template boots no kernel directly (<os><kernel>) and the node has "
                           "no guest image: iommuvm sets the guest IOMMU mode on the kernel's "
                           "command line, so it needs direct kernel boot");
    }
    // A template that boots from its disk would pick its own command line.
    os->RemoveChildren("loader");
    os->RemoveChildren("boot");
    os->MutableChild("kernel")->text = vm.kernel();
    if (!vm.initrd().empty() && os->Child("initrd") == nullptr) {
      os->MutableChild("initrd")->text = vm.initrd();
    }
  }
  auto ours = GuestCmdline(vm);
  if (!ours.ok()) return ours.status();
  XmlElement* cmdline = os->MutableChild("cmdline");
  std::string line = WithoutIommuTokens(cmdline->Text());
  absl::StrAppend(&line, line.empty() ? "" : " ", *ours);
  if (!launch.extra_append.empty()) absl::StrAppend(&line, " ", launch.extra_append);
  cmdline->text = line;

  if (vm.hugepages()) {
    XmlElement* backing = d.MutableChild("memoryBacking");
    if (backing->Child("hugepages") == nullptr) backing->AddChild("hugepages");
  }
  d.MutableChild("on_reboot")->text = "destroy";

  XmlElement* devices = d.MutableChild("devices");
  if (!launch.emulator.empty()) devices->MutableChild("emulator")->text = launch.emulator;
  devices->RemoveChildren("serial");
  devices->RemoveChildren("console");
  XmlElement* data = nullptr;
  for (XmlElement& c : devices->children) {
    if (c.name == "interface") {
      data = &c;
      break;
    }
  }
  if (data == nullptr) {
    if (asked->nic == iommu::GuestNic::kVfio) {
      return absl::InvalidArgumentError(absl::StrCat(
          source,
          ": the template's only NIC is an assigned device (<hostdev>); its guest "
          "cannot be told which NIC carries the run's traffic. Give the data NIC as an "
          "<interface>, or leave the NICs to iommuvm"));
    }
    Add(devices, BridgeNic(vm, launch));
  } else {
    // The guest's init finds its data NIC by this MAC.
    data->MutableChild("mac")->SetAttribute("address", launch.data_mac);
  }
  if (!launch.control_mac.empty()) Add(devices, ControlNic(launch.control_mac));
  Add(devices, FileSerial(launch.console_path));
  return WriteXml(d);
}

}  // namespace iommuvm::agent
