#include "agent/node/iommu_probe.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "iommu/cmdline.h"

namespace iommuvm::agent {
namespace {

// What a group type says; the caching-mode trap turns DMA-FQ strict.
// Before 5.15 there is no DMA-FQ: lazy and strict groups both read "DMA"
// ("translated", decided by the kernel log).
std::string ModeOfType(const std::string& type, bool batching_disallowed, bool has_dma_fq) {
  if (type == "identity") return "passthrough";
  if (type == "DMA") return has_dma_fq ? "strict" : "translated";
  if (type == "DMA-FQ") return batching_disallowed ? "strict" : "lazy";
  return "";
}

// Lazy or strict for a translated domain on a kernel without DMA-FQ, from
// the kernel's own words ("" when it gave none), with the evidence used.
std::string FlushPolicyFromLog(const KernelLogFacts& log, std::string* why) {
  if (log.batching_disallowed) {
    *why = log.batching_line;
    return "strict";
  }
  if (!log.tlb_policy.empty()) {  // 5.14: "DMA domain TLB invalidation policy"
    *why = "DMA domain TLB invalidation policy: " + log.tlb_policy;
    return log.tlb_policy;
  }
  if (!log.driver_flush_policy.empty()) {  // 5.4-5.13 driver messages
    *why = log.driver_flush_line;
    return log.driver_flush_policy;
  }
  return "";
}

std::string DescribeGroup(const IommuProbe& p, const IommuGroup& g) {
  std::vector<std::string> devices;
  for (const std::string& bdf : g.devices) {
    std::string d = bdf;
    if (bdf == p.data_nic.bdf && !p.data_nic.driver.empty()) {
      absl::StrAppend(&d, ", ", p.data_nic.driver);
    }
    devices.push_back(d);
  }
  return absl::StrCat("group ", g.id, " (", absl::StrJoin(devices, ", "), ")");
}

// The data-plane NIC: named, or the only NIC backed by a PCI device.
void PickDataNic(const FileSystem& fs, const std::string& wanted, IommuProbe* p) {
  std::vector<NetInterface> pci;
  if (auto nic = DataPlaneNic(fs, wanted, &pci)) {
    p->data_nic = *nic;
    return;
  }
  if (!wanted.empty()) {
    p->warnings.push_back(absl::StrCat("no network interface or PCI NIC '", wanted,
                                       "' in /sys/class/net; judging by all groups"));
  } else if (pci.size() > 1) {
    std::vector<std::string> names;
    for (const auto& n : pci) names.push_back(n.name);
    p->warnings.push_back(absl::StrCat("several PCI NICs (", absl::StrJoin(names, ", "),
                                       "); name the data-plane one (--nic) to judge by its group"));
  }
}

}  // namespace

std::string ModeName(v1::IommuMode mode) {
  switch (mode) {
    case v1::IOMMU_MODE_OFF: return "off";
    case v1::IOMMU_MODE_PASSTHROUGH: return "passthrough";
    case v1::IOMMU_MODE_LAZY: return "lazy";
    case v1::IOMMU_MODE_STRICT: return "strict";
    default: return "kernel default";
  }
}

namespace {
// Why the IOMMU is off, from positive evidence only; "" when none.
std::string OffEvidence(const FileSystem& fs, const IommuProbe& p) {
  std::vector<std::string> why;
  if (p.kernel_log.iommu_disabled) why.push_back("the kernel log says the IOMMU is disabled");
  if (p.requested == v1::IOMMU_MODE_OFF) why.push_back("the command line turns it off");
  auto units = fs.ListDir("/sys/class/iommu");
  auto groups = fs.ListDir("/sys/kernel/iommu_groups");
  if (units.ok() && units->empty() && groups.ok() && groups->empty()) {
    why.push_back("/sys/class/iommu and /sys/kernel/iommu_groups are present and empty");
  }
  return absl::StrJoin(why, "; ");
}
}  // namespace

IommuProbe ProbeIommu(const FileSystem& fs, absl::string_view kernel_log, bool log_available,
                      const std::string& data_nic) {
  IommuProbe p;
  p.cmdline = ReadTrimmed(fs, "/proc/cmdline");
  p.kernel_release = ReadTrimmed(fs, "/proc/sys/kernel/osrelease");
  p.requested = iommu::RequestedModeFromCmdline(p.cmdline);
  std::vector<std::string> tokens = iommu::ModeTokens(p.cmdline);
  p.evidence.push_back(absl::StrCat(
      "cmdline: ", tokens.empty() ? "no IOMMU mode tokens" : absl::StrJoin(tokens, " "),
      " -> requests ", ModeName(p.requested)));

  p.kernel_log_read = log_available;
  if (log_available) {
    p.kernel_log = ParseKernelLog(kernel_log);
    for (const std::string& line : p.kernel_log.lines) p.evidence.push_back("kernel log: " + line);
  } else {
    p.warnings.push_back("kernel log not available; judging by sysfs only");
  }
  const KernelLogFacts& log = p.kernel_log;

  p.iommu_units = IommuUnits(fs);
  p.groups = IommuGroups(fs);
  PickDataNic(fs, data_nic, &p);
  p.evidence.push_back(p.iommu_units.empty()
                           ? "/sys/class/iommu: no IOMMU units"
                           : "/sys/class/iommu: " + absl::StrJoin(p.iommu_units, ", "));

  // 5.15 added DMA-FQ; on older kernels (and when the release cannot be
  // read but some group shows DMA-FQ) "DMA" alone does not mean strict.
  bool has_dma_fq = iommu::KernelAtLeast(p.kernel_release, 5, 15);
  for (const IommuGroup& g : p.groups) has_dma_fq = has_dma_fq || g.type == "DMA-FQ";
  std::string translated_as, translated_why;
  if (!has_dma_fq) translated_as = FlushPolicyFromLog(log, &translated_why);
  std::set<std::string> modes;
  for (const IommuGroup& g : p.groups) {
    std::string mode = ModeOfType(g.type, log.batching_disallowed, has_dma_fq);
    if (mode == "translated") mode = translated_as;  // "" when the log gave no policy
    p.group_modes.push_back(mode);
    p.evidence.push_back(absl::StrCat(DescribeGroup(p, g), ": type ",
                                      g.type.empty() ? "unreadable" : g.type));
    if (mode.empty() && g.type == "DMA" && !has_dma_fq) {
      p.warnings.push_back(absl::StrCat(
          "kernel ", p.kernel_release.empty() ? "(release unreadable)" : p.kernel_release,
          " has no DMA-FQ type: group ", g.id,
          " reads DMA in lazy and strict alike, and the kernel log names no flush policy "
          "(no 'TLB invalidation policy', 'Disable batched IOTLB flush' or AMD-Vi 'IO/TLB "
          "flush' line): lazy cannot be told from strict"));
      continue;
    }
    if (mode.empty()) {
      p.warnings.push_back(absl::StrCat("group ", g.id, " has type '", g.type,
                                        "', which says nothing about the mode"));
      continue;
    }
    modes.insert(mode);
    bool is_data = !p.data_nic.bdf.empty() &&
                   std::find(g.devices.begin(), g.devices.end(), p.data_nic.bdf) != g.devices.end();
    if (is_data) {
      p.data_group = g.id;
      p.data_group_type = g.type;
      p.data_mode = mode;
    }
  }
  if (p.groups.empty()) {
    p.evidence.push_back("/sys/kernel/iommu_groups: no groups");
  }
  if (!translated_why.empty()) {
    p.evidence.push_back(absl::StrCat("kernel ", p.kernel_release,
                                      " (no DMA-FQ type): DMA groups run ", translated_as,
                                      " per '", translated_why, "'"));
  }

  if (p.groups.empty() && p.iommu_units.empty()) {
    // No groups and no units is what "off" looks like, but also what an
    // absent or unreadable /sys looks like: off needs positive evidence.
    std::string why = OffEvidence(fs, p);
    if (why.empty()) {
      p.detected = "unknown";
      p.warnings.push_back(
          "no IOMMU units or groups, but nothing says the IOMMU is off (no kernel log line, no "
          "off token, /sys/class/iommu missing or unreadable): cannot tell off from an "
          "unreadable /sys");
    } else {
      p.detected = "off";
      p.evidence.push_back("off because " + why);
      if (!p.data_nic.name.empty()) p.data_mode = "off";
    }
  } else if (modes.size() == 1) {
    p.detected = *modes.begin();
  } else if (modes.size() > 1) {
    p.detected = "mixed";
  } else if (log.default_domain == "Passthrough") {
    p.detected = "passthrough";
    p.warnings.push_back("no readable group types; mode taken from the kernel log");
  } else if (log.default_domain == "Translated" && !log.tlb_policy.empty()) {
    p.detected = log.batching_disallowed ? "strict" : log.tlb_policy;
    p.warnings.push_back("no readable group types; mode taken from the kernel log");
  } else {
    p.detected = "unknown";
    p.warnings.push_back("IOMMU units exist but no group type or kernel log line tells the mode");
  }

  if (log.batching_disallowed && log.tlb_policy == "lazy") {
    bool amd = absl::StrContains(log.batching_line, "AMD-Vi");
    p.warnings.push_back(absl::StrCat(
        "the kernel log says lazy mode, then '", log.batching_line, "': ",
        amd ? "the AMD IOMMU driver under an emulated AMD-Vi flushes every unmap"
            : "an emulated VT-d with caching mode invalidates every unmap",
        ", so this node runs strict"));
  }
  std::string asked = ModeName(p.requested);
  if (p.requested != v1::IOMMU_MODE_UNSPECIFIED && p.detected != asked &&
      p.detected != "unknown") {
    p.warnings.push_back(absl::StrCat("the command line asks for ", asked, " but the node runs ",
                                      p.detected));
  }
  if (p.detected == "mixed" && p.data_mode.empty()) {
    p.warnings.push_back("groups run different modes and no data-plane NIC is known");
  }
  return p;
}

std::string CheckMode(const IommuProbe& p, v1::IommuMode wanted) {
  std::string want = ModeName(wanted);
  if (p.detected == "unknown" && p.data_mode.empty()) {
    return absl::StrCat("requested ", want, ", but the probe cannot tell the mode (unknown)",
                        p.warnings.empty() ? "" : ": " + p.warnings.back());
  }
  if (wanted == v1::IOMMU_MODE_OFF) {
    if (p.detected == "off") return "";
    return absl::StrCat("requested off, but the IOMMU is on: ", p.groups.size(),
                        " IOMMU groups, units ", absl::StrJoin(p.iommu_units, ", "));
  }
  if (p.detected == "off") {
    return absl::StrCat("requested ", want, ", but the IOMMU is off (no IOMMU units or groups)");
  }
  for (size_t i = 0; i < p.groups.size(); ++i) {
    const IommuGroup& g = p.groups[i];
    bool judged = p.data_group.empty() || g.id == p.data_group;
    if (!judged || p.group_modes[i] == want) continue;
    std::string type = g.type;
    if (p.group_modes[i] == "strict" && g.type == "DMA-FQ") type += " (strict: batching disallowed)";
    return absl::StrCat("requested ", want, ", but ", DescribeGroup(p, g), " has type ", type);
  }
  if (p.groups.empty() && p.detected != want) {
    return absl::StrCat("requested ", want, ", but the node runs ", p.detected);
  }
  return "";
}

}  // namespace iommuvm::agent
