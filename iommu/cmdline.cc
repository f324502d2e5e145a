#include "iommu/cmdline.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/closest_match.h"

namespace iommuvm::iommu {
namespace {

// Parameter -> allowed values; an empty list means "any value"; a value
// list starting with "," means a comma-separated list of those values;
// {""} means a flag without value.
const std::map<std::string, std::vector<std::string>>& KnownParameters() {
  static const auto* known = new std::map<std::string, std::vector<std::string>>{
      {"intel_iommu",
       {",", "on", "off", "igfx_off", "forcedac", "strict", "sp_off", "sm_on", "sm_off",
        "tboot_noforce"}},
      {"amd_iommu",
       {",", "fullflush", "force_isolation", "force_enable", "off", "pgtbl_v1", "pgtbl_v2",
        "irtcachedis", "nohugepages", "v2_pgsizes_only"}},
      {"iommu",
       {",", "off", "force", "noforce", "biomerge", "panic", "nopanic", "merge", "nomerge", "soft",
        "pt", "nopt", "forcesac", "allowdac", "nodac", "usedac"}},
      {"iommu.strict", {"0", "1"}},
      {"iommu.passthrough", {"0", "1"}},
      {"iommu.forcedac", {"0", "1"}},
      {"amd_iommu_dump", {""}},
      {"amd_iommu_intr", {"legacy", "vapic"}},
      {"intremap", {",", "on", "off", "nosid", "no_x2apic_optout", "nopost"}},
      {"ivrs_ioapic", {}},
      {"ivrs_hpet", {}},
      {"ivrs_acpihid", {}},
      {"vfio-pci.ids", {}},
      {"vfio_pci.ids", {}},
      {"vfio-pci.disable_idle_d3", {"0", "1"}},
      {"vfio_iommu_type1.allow_unsafe_interrupts", {"0", "1"}},
      {"vfio_iommu_type1.dma_entry_limit", {}},
  };
  return *known;
}

// IOMMU-related by name, or close enough to a known parameter to be a
// misspelling of one ("intel_iomu").
bool LooksIommuRelated(const std::string& key) {
  if (absl::StrContains(key, "iommu") || absl::StartsWith(key, "intremap") ||
      absl::StartsWith(key, "ivrs") || absl::StartsWith(key, "dmar") ||
      absl::StartsWith(key, "vfio")) {
    return true;
  }
  for (const auto& [name, _] : KnownParameters()) {
    if (EditDistance(key, name) <= 2) return true;
  }
  return false;
}

// The parameter name of a token: "ivrs_ioapic[32]=00:14.0" -> "ivrs_ioapic".
std::string ParameterOf(absl::string_view token) {
  std::string key(token.substr(0, token.find('=')));
  if (size_t bracket = key.find('['); bracket != std::string::npos && key.back() == ']') {
    key = key.substr(0, bracket);
  }
  return key;
}

bool Contains(const std::vector<std::string>& list, absl::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

constexpr char kForbidden[] = "\"'`$;\\|&<>(){}\n\r\t";

std::string CheckToken(const std::string& token) {
  size_t eq = token.find('=');
  // AMD IVRS overrides carry an index: ivrs_ioapic[32]=00:14.0.
  std::string key = ParameterOf(token);
  if (Contains(RefusedParameters(), key)) {
    return absl::StrCat("'", token, "' is refused: ", key,
                        "= would hand the node's boot or its kernel's integrity to the spec");
  }
  bool has_value = eq != std::string::npos;
  std::string value = has_value ? token.substr(eq + 1) : "";
  if (key.empty()) return absl::StrCat("'", token, "' has no parameter name");
  if (!LooksIommuRelated(key)) return "";
  const auto& known = KnownParameters();
  auto it = known.find(key);
  if (it == known.end()) {
    std::vector<std::string> names;
    for (const auto& [name, _] : known) names.push_back(name);
    std::string msg = absl::StrCat("unknown IOMMU parameter '", key, "' in '", token, "'");
    std::string best = ClosestMatch(key, names);
    if (!best.empty()) absl::StrAppend(&msg, "; did you mean '", best, "'?");
    return msg;
  }
  const std::vector<std::string>& allowed = it->second;
  if (allowed.empty()) {
    return has_value && !value.empty() ? "" : absl::StrCat("'", key, "' needs a value");
  }
  if (allowed.size() == 1 && allowed[0].empty()) {
    return has_value ? absl::StrCat("'", key, "' takes no value") : "";
  }
  bool list = allowed[0] == ",";
  std::vector<std::string> choices(allowed.begin() + (list ? 1 : 0), allowed.end());
  std::vector<std::string> values =
      list ? std::vector<std::string>(absl::StrSplit(value, ',')) : std::vector<std::string>{value};
  for (const auto& v : values) {
    if (std::find(choices.begin(), choices.end(), v) != choices.end()) continue;
    std::string msg = absl::StrCat("'", v, "' is not a value of ", key,
                                   " (allowed: ", absl::StrJoin(choices, ", "), ")");
    std::string best = ClosestMatch(v, choices);
    if (!best.empty()) absl::StrAppend(&msg, "; did you mean '", best, "'?");
    return msg;
  }
  return "";
}

}  // namespace

const std::vector<std::string>& RefusedParameters() {
  static const auto* refused = new std::vector<std::string>{
      // Who runs as PID 1, from which root and initrd.
      "init", "rdinit", "initrd", "root", "rootfstype", "rootflags", "nfsroot", "rootdelay", "ro",
      "rw", "single", "emergency", "s", "S", "1", "break", "systemd.unit", "systemd.debug_shell",
      "systemd.confirm_spawn", "systemd.mask", "systemd.wants", "systemd.run", "rd.break",
      "rd.shell", "rd.emergency", "rd.systemd.unit", "rd.driver.blacklist", "rd.driver.pre",
      // The kernel's own integrity and security modules.
      "module.sig_enforce", "module_blacklist", "modprobe.blacklist", "lockdown", "lsm", "security",
      "selinux", "enforcing", "apparmor", "ima_appraise", "ima_policy", "ima_appraise_tcb",
      "ima_hash", "evm", "sysrq_always_enabled", "kexec_load_disabled", "efi", "dyndbg",
      "trace_event", "ftrace", "kgdboc", "kgdbwait", "memmap"};
  return *refused;
}

const std::vector<std::string>& BenchmarkParameters() {
  static const auto* allowed = [] {
    auto* list = new std::vector<std::string>{
        // CPU isolation, SMT, idle and frequency.
        "isolcpus", "nohz", "nohz_full", "rcu_nocbs", "rcu_nocb_poll", "irqaffinity", "nosmt",
        "idle", "intel_idle.max_cstate", "processor.max_cstate", "intel_pstate", "amd_pstate",
        "cpufreq.default_governor", "skew_tick", "nosoftlockup", "nowatchdog", "nmi_watchdog",
        "tsc", "clocksource", "numa_balancing", "pcie_aspm", "pcie_aspm.policy", "pci",
        // Speculation mitigations.
        "mitigations", "spectre_v2", "spectre_v2_user", "spec_store_bypass_disable", "pti", "nopti",
        "nospectre_v1", "nospectre_v2", "l1tf", "mds", "tsx", "tsx_async_abort", "retbleed",
        "srbds", "mmio_stale_data", "gather_data_sampling", "spec_rstack_overflow",
        // Memory.
        "transparent_hugepage", "default_hugepagesz", "hugepagesz", "hugepages", "swiotlb",
        "nokaslr",
        // Nested virtualisation on the host.
        "kvm_intel.nested", "kvm-intel.nested", "kvm_amd.nested", "kvm-amd.nested",
        "kvm.halt_poll_ns",
        // Logging.
        "quiet", "loglevel", "console", "audit", "printk.time"};
    for (const auto& [name, _] : KnownParameters()) list->push_back(name);
    return list;
  }();
  return *allowed;
}

std::vector<std::string> CheckCmdlineForNode(const std::string& fragment,
                                             const std::vector<std::string>& also_allowed) {
  std::vector<std::string> errors = CheckCmdline(fragment);
  if (!errors.empty()) return errors;
  for (absl::string_view t : absl::StrSplit(fragment, ' ', absl::SkipEmpty())) {
    std::string key = ParameterOf(t);
    if (Contains(BenchmarkParameters(), key) || Contains(also_allowed, key) ||
        Contains(also_allowed, t)) {
      continue;
    }
    errors.push_back(absl::StrCat("'", t,
                                  "' is not a parameter this agent writes into the boot "
                                  "configuration; if the experiment needs it, start the agent "
                                  "with --allow_cmdline ",
                                  key));
  }
  return errors;
}

std::vector<std::string> CheckCmdline(const std::string& fragment) {
  std::vector<std::string> errors;
  for (size_t i = 0; i < fragment.size(); ++i) {
    char c = fragment[i];
    if (std::string(kForbidden).find(c) != std::string::npos ||
        static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) {
      if (c == ' ') continue;
      std::string shown = c == '\n'   ? "\\n"
                          : c == '\t' ? "\\t"
                          : c == '\r' ? "\\r"
                                      : std::string(1, c);
      errors.push_back(absl::StrCat("character '", shown, "' at offset ", i,
                                    " is not allowed in a kernel command line here"));
      return errors;  // tokens are meaningless once the grammar is broken
    }
  }
  for (absl::string_view t : absl::StrSplit(fragment, ' ', absl::SkipEmpty())) {
    std::string e = CheckToken(std::string(t));
    if (!e.empty()) errors.push_back(e);
  }
  return errors;
}

bool KernelAtLeast(const std::string& release, int major, int minor) {
  int ma = 0, mi = 0;
  if (std::sscanf(release.c_str(), "%d.%d", &ma, &mi) != 2) return false;
  return ma > major || (ma == major && mi >= minor);
}

std::string DefaultIommuTokens(CpuVendor vendor, v1::IommuMode mode,
                               const std::string& kernel_release) {
  bool intel = vendor == CpuVendor::kIntel;
  // Only a readable release (at least 0.0) before 5.14 gets the drivers'
  // own strict token.
  bool before_5_14 = KernelAtLeast(kernel_release, 0, 0) && !KernelAtLeast(kernel_release, 5, 14);
  if (mode == v1::IOMMU_MODE_STRICT && before_5_14) {
    return intel ? "intel_iommu=on,strict iommu.strict=1" : "amd_iommu=fullflush iommu.strict=1";
  }
  switch (mode) {
    case v1::IOMMU_MODE_OFF:
      return intel ? "intel_iommu=off" : "amd_iommu=off";
    case v1::IOMMU_MODE_PASSTHROUGH:
      return intel ? "intel_iommu=on iommu=pt" : "iommu=pt";
    case v1::IOMMU_MODE_LAZY:
      return intel ? "intel_iommu=on iommu.strict=0" : "iommu.strict=0";
    case v1::IOMMU_MODE_STRICT:
      return intel ? "intel_iommu=on iommu.strict=1" : "iommu.strict=1";
    default:
      return "";
  }
}

namespace {
// Whether `token` is `key` with `option` among its comma-separated values.
bool HasOption(absl::string_view token, absl::string_view key, absl::string_view option) {
  if (!absl::ConsumePrefix(&token, key)) return false;
  for (absl::string_view v : absl::StrSplit(token, ',')) {
    if (v == option) return true;
  }
  return false;
}
}  // namespace

v1::IommuMode RequestedModeFromCmdline(absl::string_view cmdline) {
  v1::IommuMode mode = v1::IOMMU_MODE_UNSPECIFIED;
  // Later tokens win, as in the kernel's own parsing.
  for (absl::string_view token :
       absl::StrSplit(cmdline, absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
    if (token == "intel_iommu=off" || token == "amd_iommu=off" || token == "iommu=off") {
      mode = v1::IOMMU_MODE_OFF;
    } else if (token == "iommu=pt" || token == "iommu.passthrough=1") {
      mode = v1::IOMMU_MODE_PASSTHROUGH;
    } else if (token == "iommu.strict=0") {
      if (mode != v1::IOMMU_MODE_OFF && mode != v1::IOMMU_MODE_PASSTHROUGH) {
        mode = v1::IOMMU_MODE_LAZY;
      }
    } else if (token == "iommu.strict=1" || token == "iommu=nopt" ||
               token == "iommu.passthrough=0") {
      if (mode != v1::IOMMU_MODE_OFF) mode = v1::IOMMU_MODE_STRICT;
    } else if (HasOption(token, "intel_iommu=", "strict") ||
               HasOption(token, "amd_iommu=", "fullflush")) {
      // The drivers' own strict switches (what kernels before 5.14 obey).
      if (mode != v1::IOMMU_MODE_OFF && mode != v1::IOMMU_MODE_PASSTHROUGH) {
        mode = v1::IOMMU_MODE_STRICT;
      }
    }
  }
  return mode;
}

namespace {

bool IsModeToken(absl::string_view token) {
  for (absl::string_view key :
       {"intel_iommu=", "amd_iommu=", "iommu=", "iommu.strict=", "iommu.passthrough="}) {
    if (absl::StartsWith(token, key)) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> ModeTokens(absl::string_view cmdline) {
  std::vector<std::string> out;
  for (absl::string_view t : absl::StrSplit(cmdline, absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
    if (IsModeToken(t)) out.emplace_back(t);
  }
  return out;
}

std::string ReplaceModeTokens(absl::string_view cmdline, absl::string_view tokens) {
  std::vector<std::string> kept;
  for (absl::string_view t : absl::StrSplit(cmdline, absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
    if (!IsModeToken(t)) kept.emplace_back(t);
  }
  for (absl::string_view t : absl::StrSplit(tokens, ' ', absl::SkipEmpty())) kept.emplace_back(t);
  return absl::StrJoin(kept, " ");
}

}  // namespace iommuvm::iommu
