#include "iommu/domain_xml.h"

#include <map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/json_object.h"
#include "common/xml.h"

namespace iommuvm::iommu {
namespace {

// libvirt's namespace for QEMU pass-through (<qemu:commandline>): libvirt
// reads those elements only under a prefix bound to it.
constexpr char kQemuNamespace[] = "http://libvirt.org/schemas/domain/qemu/1.0";

// A number as strtoull(text, NULL, 0) reads it: "0x3b" hex, "073" octal,
// "59" decimal; false on anything else or overflow.
bool ParseCNumber(absl::string_view text, uint64_t* out) {
  uint64_t base = 10;
  if (absl::ConsumePrefix(&text, "0x") || absl::ConsumePrefix(&text, "0X")) {
    base = 16;
  } else if (text.size() > 1 && text[0] == '0') {
    base = 8;
  }
  if (text.empty()) return false;
  uint64_t n = 0;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    uint64_t digit = absl::ascii_isdigit(u) ? static_cast<uint64_t>(c - '0')
                     : absl::ascii_isxdigit(u)
                         ? static_cast<uint64_t>(absl::ascii_tolower(u) - 'a' + 10)
                         : base;
    if (digit >= base || __builtin_mul_overflow(n, base, &n) ||
        __builtin_add_overflow(n, digit, &n)) {
      return false;
    }
  }
  *out = n;
  return true;
}

// One QEMU -device (or -global) as driver and properties, with the
// <qemu:arg> that carried it for error messages.
struct QemuDevice {
  std::string driver;
  std::vector<std::pair<std::string, std::string>> properties;
  bool global = false;  // -global DRIVER.PROPERTY=VALUE: a default for every such device
  const XmlElement* arg = nullptr;
};

// Reads one domain XML; every error names the file and the element.
class DomainReader {
 public:
  explicit DomainReader(absl::string_view source) : source_(source) {}

  absl::StatusOr<DomainXml> Read(absl::string_view text) {
    absl::StatusOr<XmlElement> root = ParseXml(text, source_);
    if (!root.ok()) return root.status();
    if (root->name != "domain") {
      return At(*root, absl::StrCat("the root element is <", root->name,
                                    ">, not <domain>: not a libvirt domain XML"));
    }
    const XmlElement* os = root->Child("os");
    if (os == nullptr) {
      return At(*root,
                "<domain> has no <os> element, which libvirt requires (e.g. <os><type "
                "arch='x86_64' machine='q35'>hvm</type></os>)");
    }
    DomainXml d;
    if (const XmlElement* name = root->Child("name")) d.name = name->Text();
    if (const XmlElement* cmdline = os->Child("cmdline")) {
      d.cmdline = cmdline->Text();
      d.requested = GuestRequestFromCmdline(*d.cmdline);
    }
    absl::StatusOr<std::vector<QemuDevice>> qemu = QemuDevices(*root);
    if (!qemu.ok()) return qemu.status();
    const XmlElement* devices = root->Child("devices");
    static const XmlElement kNoDevices;
    if (devices == nullptr) devices = &kNoDevices;
    if (absl::Status s = ReadViommu(*devices, *qemu, &d); !s.ok()) return s;
    if (absl::Status s = ReadNic(*devices, *qemu, &d); !s.ok()) return s;
    if (absl::Status s = ReadResources(*root, &d); !s.ok()) return s;
    Explain(&d);
    return d;
  }

 private:
  absl::Status At(const XmlElement& e, absl::string_view message) const {
    return absl::InvalidArgumentError(XmlErrorAt(source_, e.line, e.column, message));
  }

  // libvirt's on/off switches (virTristateSwitch); "default" leaves QEMU's.
  absl::StatusOr<bool> Switch(const XmlElement& e, absl::string_view attr) const {
    std::string v = e.Attribute(attr, "default");
    if (v == "on") return true;
    if (v == "off" || v == "default") return false;
    return At(e,
              absl::StrCat("'", v, "' is not a value of ", attr, " in <", e.name, "> (on or off)"));
  }

  // QEMU's boolean property values.
  absl::StatusOr<bool> QemuBool(const QemuDevice& dev, const std::string& key,
                                const std::string& value) const {
    std::string v = absl::AsciiStrToLower(value);
    if (v == "on" || v == "true" || v == "yes" || v == "y") return true;
    if (v == "off" || v == "false" || v == "no" || v == "n") return false;
    if (v == "auto" && key == "intremap") return false;  // QEMU decides; not asked for
    return At(*dev.arg, absl::StrCat("'", value, "' is not a value of ", dev.driver, "'s ", key,
                                     " (on or off)"));
  }

  // The -device and -global arguments of <qemu:commandline>, in order.
  absl::StatusOr<std::vector<QemuDevice>> QemuDevices(const XmlElement& root) const {
    std::string prefix;
    for (const auto& [k, v] : root.attributes) {
      if (absl::StartsWith(k, "xmlns:") && v == kQemuNamespace) prefix = k.substr(6);
    }
    std::vector<QemuDevice> out;
    for (const XmlElement& c : root.children) {
      size_t colon = c.name.find(':');
      if (colon == std::string::npos || c.name.substr(colon + 1) != "commandline") continue;
      std::string p = c.name.substr(0, colon);
      if (!root.HasAttribute("xmlns:" + p)) {
        return At(c, absl::StrCat("<", c.name, "> has no namespace: libvirt ignores it unless ",
                                  "<domain> declares xmlns:", p, "='", kQemuNamespace, "'"));
      }
      if (p != prefix) continue;  // another namespace's commandline
      std::vector<const XmlElement*> args = c.Children(p + ":arg");
      for (size_t i = 0; i < args.size(); ++i) {
        std::string flag = args[i]->Attribute("value");
        bool global = flag == "-global" || flag == "--global";
        if (flag != "-device" && flag != "--device" && !global) continue;
        if (i + 1 == args.size()) {
          return At(*args[i], absl::StrCat("'", flag, "' is the last <", p,
                                           ":arg>: QEMU needs its value in the next one"));
        }
        absl::StatusOr<QemuDevice> dev = ParseQemuDevice(*args[++i], global);
        if (!dev.ok()) return dev.status();
        out.push_back(*std::move(dev));
      }
    }
    return out;
  }

  // "intel-iommu,caching-mode=on" (",," is a literal comma), QEMU's JSON
  // form {"driver": "intel-iommu", "caching-mode": true}, or for -global
  // "intel-iommu.caching-mode=on".
  absl::StatusOr<QemuDevice> ParseQemuDevice(const XmlElement& arg, bool global) const {
    QemuDevice dev;
    dev.arg = &arg;
    dev.global = global;
    std::string value = arg.Attribute("value");
    if (global) {
      std::pair<std::string, std::string> kv = absl::StrSplit(value, absl::MaxSplits('=', 1));
      size_t dot = kv.first.find('.');
      if (dot == std::string::npos) {
        return At(arg, absl::StrCat("'", value, "' is not DRIVER.PROPERTY=VALUE for -global"));
      }
      dev.driver = kv.first.substr(0, dot);
      dev.properties.emplace_back(kv.first.substr(dot + 1), kv.second);
      return dev;
    }
    if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(value), "{")) {
      absl::StatusOr<google::protobuf::Struct> json = ParseJsonObject(value);
      if (!json.ok()) {
        return At(arg, absl::StrCat("-device's JSON value is not a JSON object: ",
                                    json.status().message()));
      }
      dev.driver = JsonString(*json, "driver");
      for (const auto& [k, v] : json->fields()) {
        if (k == "driver") continue;
        if (v.has_bool_value()) dev.properties.emplace_back(k, v.bool_value() ? "on" : "off");
        if (v.has_string_value()) dev.properties.emplace_back(k, v.string_value());
      }
      return dev;
    }
    std::vector<std::string> parts;
    std::string part;
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i] == ',' && i + 1 < value.size() && value[i + 1] == ',') {
        part.push_back(',');
        ++i;
      } else if (value[i] == ',') {
        parts.push_back(std::move(part));
        part.clear();
      } else {
        part.push_back(value[i]);
      }
    }
    parts.push_back(std::move(part));
    for (size_t i = 0; i < parts.size(); ++i) {
      std::pair<std::string, std::string> kv = absl::StrSplit(parts[i], absl::MaxSplits('=', 1));
      bool has_value = parts[i].find('=') != std::string::npos;
      if (i == 0 && !has_value) {
        dev.driver = parts[i];
      } else if (kv.first == "driver") {
        dev.driver = kv.second;
      } else if (!kv.first.empty()) {
        dev.properties.emplace_back(kv.first, has_value ? kv.second : "on");  // "flag" means on
      }
    }
    return dev;
  }

  static std::optional<Viommu> ViommuOfDriver(absl::string_view driver) {
    if (driver == "intel-iommu") return Viommu::kIntel;
    if (driver == "amd-iommu") return Viommu::kAmd;
    if (driver == "virtio-iommu-pci" || driver == "virtio-iommu") return Viommu::kVirtio;
    return std::nullopt;
  }

  absl::Status SetViommu(Viommu v, const XmlElement& where, std::string from, DomainXml* d) const {
    if (d->viommu != Viommu::kNone) {
      return At(where,
                absl::StrCat("a second vIOMMU (", ViommuName(v), "); the domain already has ",
                             d->viommu_from, " and QEMU emulates one"));
    }
    d->viommu = v;
    d->viommu_from = std::move(from);
    return absl::OkStatus();
  }

  // Applies QEMU properties of the vIOMMU (device or -global) to the options.
  absl::Status ApplyViommuProperties(const QemuDevice& dev, ViommuOptions* o) const {
    static const std::map<std::string, bool ViommuOptions::*> kProperties = {
        {"caching-mode", &ViommuOptions::caching_mode},
        {"intremap", &ViommuOptions::intremap},
        {"device-iotlb", &ViommuOptions::device_iotlb},
        {"x-scalable-mode", &ViommuOptions::scalable_mode},
        {"x-flts", &ViommuOptions::flts}};
    for (const auto& [k, v] : dev.properties) {
      auto it = kProperties.find(k);
      if (it == kProperties.end()) continue;  // aw-bits, eim, ... do not change the mode
      absl::StatusOr<bool> on = QemuBool(dev, k, v);
      if (!on.ok()) return on.status();
      o->*(it->second) = *on;
    }
    return absl::OkStatus();
  }

  absl::Status ReadViommu(const XmlElement& devices, const std::vector<QemuDevice>& qemu,
                          DomainXml* d) const {
    for (const XmlElement* iommu : devices.Children("iommu")) {
      std::string model = iommu->Attribute("model");
      std::optional<Viommu> v;
      if (model == "intel") v = Viommu::kIntel;
      if (model == "amd") v = Viommu::kAmd;
      if (model == "virtio") v = Viommu::kVirtio;
      if (!v) {
        return At(*iommu, model.empty()
                              ? std::string("<iommu> needs a model (intel, amd or virtio)")
                          : model == "smmuv3"
                              ? std::string("<iommu model='smmuv3'> is Arm's SMMUv3; iommuvm "
                                            "explains x86 guests (intel, amd, virtio)")
                              : absl::StrCat("'", model,
                                             "' is not an <iommu> model iommuvm "
                                             "knows (intel, amd or virtio)"));
      }
      if (absl::Status s = SetViommu(
              *v, *iommu, absl::StrCat("<iommu model='", model, "'> (line ", iommu->line, ")"), d);
          !s.ok()) {
        return s;
      }
      if (const XmlElement* driver = iommu->Child("driver")) {
        std::pair<const char*, bool ViommuOptions::*> attrs[] = {
            {"caching_mode", &ViommuOptions::caching_mode},
            {"intremap", &ViommuOptions::intremap},
            {"iotlb", &ViommuOptions::device_iotlb}};
        for (const auto& [attr, member] : attrs) {
          absl::StatusOr<bool> on = Switch(*driver, attr);
          if (!on.ok()) return on.status();
          d->viommu_options.*member = *on;
        }
      }
    }
    // -global DRIVER.PROPERTY=VALUE sets defaults; the device's own
    // properties win.
    const QemuDevice* device = nullptr;
    for (const QemuDevice& dev : qemu) {
      std::optional<Viommu> v = ViommuOfDriver(dev.driver);
      if (!v || dev.global) continue;
      if (absl::Status s =
              SetViommu(*v, *dev.arg,
                        absl::StrCat("-device ", dev.arg->Attribute("value"),
                                     " in <qemu:commandline> (line ", dev.arg->line, ")"),
                        d);
          !s.ok()) {
        return s;
      }
      device = &dev;
    }
    if (device == nullptr) return absl::OkStatus();
    for (const QemuDevice& dev : qemu) {
      if (!dev.global || dev.driver != device->driver) continue;
      if (absl::Status s = ApplyViommuProperties(dev, &d->viommu_options); !s.ok()) return s;
    }
    return ApplyViommuProperties(*device, &d->viommu_options);
  }

  // A PCI address as libvirt reads one (<address domain='0x0000'
  // bus='0x3b' slot='0x00' function='0x2'/>: numbers in C syntax, absent
  // ones 0) in the kernel's form, "0000:3b:00.2".
  absl::StatusOr<std::string> PciAddress(const XmlElement& address) const {
    struct Field {
      const char* name;
      uint64_t max;
      uint64_t value = 0;
    } fields[] = {{"domain", 0xFFFF}, {"bus", 0xFF}, {"slot", 0x1F}, {"function", 7}};
    for (Field& f : fields) {
      std::string text = address.Attribute(f.name, "0");
      bool ok = ParseCNumber(text, &f.value);
      if (!ok || f.value > f.max) {
        return At(address,
                  absl::StrFormat("'%s' is not a PCI %s (0 to 0x%x)", text, f.name, f.max));
      }
    }
    return absl::StrFormat("%04x:%02x:%02x.%x", fields[0].value, fields[1].value, fields[2].value,
                           fields[3].value);
  }

  // "3b:00.2" -> "0000:3b:00.2" (vfio-pci's host= may omit the domain).
  static std::string WithPciDomain(absl::string_view host) {
    int colons = 0;
    for (char c : host) colons += c == ':';
    return colons == 1 ? absl::StrCat("0000:", host) : std::string(host);
  }

  // An assigned device (<hostdev> or <interface type='hostdev'>, or QEMU's
  // vfio-pci) makes the NIC vfio; otherwise a virtio <interface> (or
  // virtio-net-pci) makes it virtio.
  absl::Status ReadNic(const XmlElement& devices, const std::vector<QemuDevice>& qemu,
                       DomainXml* d) const {
    bool virtio = false, other = false;
    auto assigned = [&](const XmlElement* source) -> absl::Status {
      if (d->nic == GuestNic::kVfio) return absl::OkStatus();  // the first one is reported
      d->nic = GuestNic::kVfio;
      const XmlElement* address = source ? source->Child("address") : nullptr;
      if (address == nullptr) return absl::OkStatus();
      absl::StatusOr<std::string> bdf = PciAddress(*address);
      if (!bdf.ok()) return bdf.status();
      d->vf = *bdf;
      return absl::OkStatus();
    };
    for (const XmlElement* hostdev : devices.Children("hostdev")) {
      if (hostdev->Attribute("mode", "subsystem") != "subsystem" ||
          hostdev->Attribute("type") != "pci") {
        continue;
      }
      if (absl::Status s = assigned(hostdev->Child("source")); !s.ok()) return s;
    }
    for (const XmlElement* iface : devices.Children("interface")) {
      if (iface->Attribute("type") == "hostdev") {
        if (absl::Status s = assigned(iface->Child("source")); !s.ok()) return s;
        continue;
      }
      const XmlElement* model = iface->Child("model");
      if (model != nullptr && absl::StartsWith(model->Attribute("type"), "virtio")) {
        virtio = true;
        const XmlElement* driver = iface->Child("driver");
        if (driver != nullptr && driver->Attribute("iommu") == "on") {
          d->virtio_nic_translated = true;
        }
      } else {
        other = true;
      }
    }
    for (const QemuDevice& dev : qemu) {
      if (dev.global) continue;
      if (dev.driver == "vfio-pci" && d->nic != GuestNic::kVfio) {
        d->nic = GuestNic::kVfio;
        for (const auto& [k, v] : dev.properties) {
          if (k == "host") d->vf = WithPciDomain(v);
        }
      } else if (dev.driver == "virtio-net-pci") {
        virtio = true;
        for (const auto& [k, v] : dev.properties) {
          if (k != "iommu_platform") continue;
          absl::StatusOr<bool> on = QemuBool(dev, k, v);
          if (!on.ok()) return on.status();
          d->virtio_nic_translated = d->virtio_nic_translated || *on;
        }
      }
    }
    if (d->nic != GuestNic::kVfio) {
      d->nic = virtio ? GuestNic::kVirtio : other ? GuestNic::kOther : GuestNic::kNone;
    }
    return absl::OkStatus();
  }

  absl::Status ReadResources(const XmlElement& root, DomainXml* d) const {
    if (const XmlElement* vcpu = root.Child("vcpu")) {
      std::string text = vcpu->Text();
      if (text.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(text[0])) ||
          !absl::SimpleAtoi(text, &d->vcpus) || d->vcpus == 0) {
        return At(*vcpu,
                  absl::StrCat("<vcpu> must be a positive whole number, found '", text, "'"));
      }
    }
    if (const XmlElement* memory = root.Child("memory")) {
      absl::StatusOr<uint64_t> kib = MemoryKib(memory->Text(), memory->Attribute("unit"));
      if (!kib.ok()) return At(*memory, absl::StrCat("<memory>: ", kib.status().message()));
      d->memory_kib = *kib;
    } else if (const XmlElement* cpu = root.Child("cpu"); cpu && cpu->Child("numa")) {
      // libvirt lets NUMA cells carry the memory instead.
      uint64_t total = 0;
      for (const XmlElement* cell : cpu->Child("numa")->Children("cell")) {
        absl::StatusOr<uint64_t> kib =
            MemoryKib(cell->Attribute("memory"), cell->Attribute("unit"));
        if (!kib.ok()) return At(*cell, absl::StrCat("<cell memory>: ", kib.status().message()));
        total += *kib;
      }
      d->memory_kib = total;
    }
    const XmlElement* cputune = root.Child("cputune");
    d->pinned = cputune != nullptr && cputune->Child("vcpupin") != nullptr;
    return absl::OkStatus();
  }

  // The guest's facts, and what the XML adds to their reason.
  static void Explain(DomainXml* d) {
    d->guest = ExpectedGuestMode(d->viommu, d->viommu_options, d->nic, d->requested);
    if (!d->guest.starts || d->viommu == Viommu::kNone) return;
    if (!d->cmdline) {
      d->guest.reason = absl::StrCat(
          "no <os><cmdline>: the bootloader on the guest's disk chooses the kernel command "
          "line, which this XML does not show; ",
          d->guest.reason);
    }
    if (d->nic == GuestNic::kVirtio && !d->virtio_nic_translated) {
      absl::StrAppend(&d->guest.reason,
                      "; the virtio NIC has no <driver iommu='on'/> (iommu_platform=on), so its "
                      "DMA bypasses the vIOMMU and the data path pays no IOMMU cost");
    }
  }

  const std::string source_;
};

}  // namespace

absl::StatusOr<DomainXml> ReadDomainXml(absl::string_view text, absl::string_view source) {
  return DomainReader(source).Read(text);
}

absl::StatusOr<uint64_t> MemoryKib(absl::string_view value, absl::string_view unit) {
  value = absl::StripAsciiWhitespace(value);
  uint64_t n = 0;
  if (value.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(value[0])) ||
      !absl::SimpleAtoi(value, &n)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", value, "' is not a size (a whole number, in unit= units)"));
  }
  // virScaleInteger: "b"/"byte"/"bytes"; a letter alone or with "iB" is a
  // power of 1024; with "B" a power of 1000; no unit is KiB here.
  uint64_t scale = 1024;
  std::string u = absl::AsciiStrToLower(unit);
  if (u == "b" || u == "byte" || u == "bytes") {
    scale = 1;
  } else if (!u.empty()) {
    uint64_t base = 0;
    if (u.size() == 1 || u.substr(1) == "ib") base = 1024;
    if (u.size() == 2 && u[1] == 'b') base = 1000;
    size_t power = std::string("kmgtpe").find(u[0]);
    if (base == 0 || power == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown unit '", unit,
                       "' (libvirt takes b, bytes, KB, k, KiB, MB, M, MiB, GB, G, GiB, "
                       "TB, T, TiB, PB, P, PiB, EB, E, EiB)"));
    }
    scale = 1;
    for (size_t i = 0; i <= power; ++i) scale *= base;
  }
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(n, scale, &bytes)) {
    return absl::InvalidArgumentError(absl::StrCat("'", value, " ", unit, "' is too large"));
  }
  return bytes / 1024 + (bytes % 1024 != 0);  // libvirt rounds up to whole KiB
}

}  // namespace iommuvm::iommu
