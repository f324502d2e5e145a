// `iommuvm vm-explain`: what a libvirt domain XML asks of the guest's IOMMU
// and which mode the guest will really run, before anyone boots it.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/command_support.h"
#include "common/file_system.h"
#include "iommu/domain_xml.h"
#include "iommu/mode_names.h"

namespace iommuvm::cli {
namespace {

constexpr char kVmExplainUsage[] =
    "usage: iommuvm vm-explain FILE.xml [--format table|json]\n"
    "Reads a libvirt domain XML and shows what it asks for (vIOMMU and its options, from\n"
    "<iommu> or <qemu:commandline>; the guest's kernel command line; NIC, vCPUs, memory,\n"
    "pinning) and the IOMMU mode the guest will really run, with the reason.\n";

const char* Bool(bool b) { return b ? "true" : "false"; }

std::string MemoryMib(uint64_t kib) {
  if (kib % 1024 == 0) return absl::StrCat(kib / 1024);
  return Fixed(static_cast<double>(kib) / 1024.0, 3);
}

// expected_guest_mode: null when QEMU does not start the guest at all.
std::string ExpectedMode(const iommu::DomainXml& d) {
  return d.guest.starts ? iommu::GuestModeName(d.guest.expected) : "";
}

void PrintJson(std::ostream& out, const iommu::DomainXml& d) {
  const iommu::ViommuOptions& o = d.viommu_options;
  std::string expected = ExpectedMode(d);
  out << "{\n  \"viommu\": " << JsonEscape(iommu::ViommuName(d.viommu))
      << ",\n  \"viommu_options\": {\"caching_mode\": " << Bool(o.caching_mode)
      << ", \"intremap\": " << Bool(o.intremap) << ", \"device_iotlb\": " << Bool(o.device_iotlb)
      << ", \"scalable_mode\": " << Bool(o.scalable_mode) << ", \"flts\": " << Bool(o.flts)
      << "},\n  \"guest_requested_mode\": " << JsonEscape(iommu::GuestModeName(d.requested.mode))
      << ",\n  \"expected_guest_mode\": " << (expected.empty() ? "null" : JsonEscape(expected))
      << ",\n  \"reason\": " << JsonEscape(d.guest.reason)
      << ",\n  \"nic\": " << JsonEscape(iommu::GuestNicName(d.nic))
      << ",\n  \"vf\": " << (d.vf.empty() ? "null" : JsonEscape(d.vf))
      << ",\n  \"vcpus\": " << d.vcpus
      << ",\n  \"memory_mib\": " << (d.memory_kib ? MemoryMib(*d.memory_kib) : "null")
      << ",\n  \"pinned\": " << Bool(d.pinned) << "\n}\n";
}

void PrintTable(std::ostream& out, const iommu::DomainXml& d) {
  const iommu::ViommuOptions& o = d.viommu_options;
  std::vector<std::string> options;
  for (const auto& [name, on] : {std::pair<const char*, bool>{"caching_mode", o.caching_mode},
                                 {"intremap", o.intremap},
                                 {"device_iotlb", o.device_iotlb},
                                 {"scalable_mode", o.scalable_mode},
                                 {"flts", o.flts}}) {
    if (on) options.push_back(name);
  }
  std::string viommu = iommu::ViommuName(d.viommu);
  if (!d.viommu_from.empty()) absl::StrAppend(&viommu, " from ", d.viommu_from);
  std::string requested = iommu::GuestModeName(d.requested.mode);
  absl::StrAppend(&requested, d.cmdline ? absl::StrCat(" (<cmdline> ", *d.cmdline, ")")
                                        : " (no <cmdline>: not a direct kernel boot)");
  std::string expected = ExpectedMode(d);
  std::string nic = iommu::GuestNicName(d.nic);
  if (!d.vf.empty()) absl::StrAppend(&nic, " ", d.vf);
  Table t({{"field"}, {"value"}});
  if (!d.name.empty()) t.AddRow({"domain", d.name});
  t.AddRow({"viommu", viommu});
  t.AddRow({"viommu_options", options.empty() ? "-" : absl::StrJoin(options, " ")});
  t.AddRow({"guest_requested_mode", requested});
  t.AddRow(
      {"expected_guest_mode", expected.empty() ? "- (QEMU does not start the guest)" : expected});
  t.AddRow({"reason", d.guest.reason});
  t.AddRow({"nic", nic});
  t.AddRow({"vcpus", absl::StrCat(d.vcpus)});
  t.AddRow({"memory_mib", d.memory_kib ? MemoryMib(*d.memory_kib) : "-"});
  t.AddRow({"pinned", d.pinned ? "yes" : "no"});
  t.Print(out, Format::kTable);
}

}  // namespace

int VmExplain(Context& ctx, const std::vector<std::string>& argv) {
  int code = kExitOk;
  auto args = ParseCommand(ctx, argv, kVmExplainUsage, {}, {}, 1, 1, &code);
  if (!args) return code;
  auto format = FormatOf(ctx, *args);
  if (!format) return kExitUsage;
  if (*format == Format::kCsv) {
    ctx.err << "iommuvm: vm-explain prints --format table or json\n" << kVmExplainUsage;
    return kExitUsage;
  }
  const std::string& path = args->positional[0];
  auto text = LocalFileSystem("/").ReadFile(AbsolutePath(path));
  if (!text.ok()) {
    ctx.err << "iommuvm: " << text.status().message() << "\n";
    return kExitFailure;
  }
  auto domain = iommu::ReadDomainXml(*text, path);
  if (!domain.ok()) {
    ctx.err << domain.status().message() << "\n";
    return kExitFailure;
  }
  if (*format == Format::kJson) {
    PrintJson(ctx.out, *domain);
  } else {
    PrintTable(ctx.out, *domain);
  }
  return kExitOk;
}

}  // namespace iommuvm::cli
