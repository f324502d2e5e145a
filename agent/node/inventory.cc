#include "agent/node/inventory.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/node/sysfs.h"

namespace iommuvm::agent {
namespace {

// "key\t: value" lines of /proc/cpuinfo and /proc/meminfo.
std::string Field(absl::string_view line) {
  size_t colon = line.find(':');
  return colon == absl::string_view::npos
             ? ""
             : std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
}

// How each tool reports its version, and on which stream.
struct VersionProbe {
  const char* tool;
  std::vector<std::string> argv;
};

const std::vector<VersionProbe>& VersionProbes() {
  static const auto* probes = new std::vector<VersionProbe>{
      {"redis-server", {"redis-server", "--version"}},
      {"redis-benchmark", {"redis-benchmark", "--version"}},
      {"memcached", {"memcached", "-V"}},
      {"nginx", {"nginx", "-v"}},  // prints to stderr
      {"memtier_benchmark", {"memtier_benchmark", "--version"}},
      {"memcaslap", {"memcaslap", "--version"}},
      {"wrk", {"wrk", "-v"}},  // prints its banner and exits 1
      {"wrk2", {"wrk2", "-v"}},
      {"iperf3", {"iperf3", "--version"}},      // server and client in one program
      {"sockperf", {"sockperf", "--version"}},  // likewise
      {"netperf", {"netperf", "-V"}},           // "Netperf version 2.7.0"
      {"qemu-system-x86_64", {"qemu-system-x86_64", "--version"}},
  };
  return *probes;
}

}  // namespace

std::string KernelRelease(const FileSystem& fs) {
  return ReadTrimmed(fs, "/proc/sys/kernel/osrelease");
}

std::string BootId(const FileSystem& fs) {
  std::string id = ReadTrimmed(fs, "/proc/sys/kernel/random/boot_id");
  // Captured sysroots keep it at /proc/boot_id.
  return id.empty() ? ReadTrimmed(fs, "/proc/boot_id") : id;
}

v1::Inventory CollectInventory(const FileSystem& fs) {
  v1::Inventory inv;
  inv.set_hostname(ReadTrimmed(fs, "/proc/sys/kernel/hostname"));
  inv.set_kernel_release(KernelRelease(fs));
  inv.set_kvm_device(fs.Exists("/dev/kvm"));
  if (auto cpuinfo = fs.ReadFile("/proc/cpuinfo"); cpuinfo.ok()) {
    uint32_t cpus = 0;
    for (absl::string_view line : absl::StrSplit(*cpuinfo, '\n')) {
      if (absl::StartsWith(line, "processor")) ++cpus;
      if (absl::StartsWith(line, "vendor_id") && inv.cpu_vendor().empty()) {
        inv.set_cpu_vendor(Field(line));
      }
      if (absl::StartsWith(line, "model name") && inv.cpu_model().empty()) {
        inv.set_cpu_model(Field(line));
      }
    }
    inv.set_cpu_cores(cpus);
  }
  if (auto meminfo = fs.ReadFile("/proc/meminfo"); meminfo.ok()) {
    for (absl::string_view line : absl::StrSplit(*meminfo, '\n')) {
      if (!absl::StartsWith(line, "MemTotal:")) continue;
      std::vector<std::string> w = absl::StrSplit(Field(line), ' ', absl::SkipEmpty());
      uint64_t kib = 0;
      if (!w.empty() && absl::SimpleAtoi(w[0], &kib)) inv.set_memory_bytes(kib * 1024);
    }
  }
  if (auto nodes = fs.ListDir("/sys/devices/system/node"); nodes.ok()) {
    uint32_t n = 0;
    for (const auto& name : *nodes) n += absl::StartsWith(name, "node") ? 1 : 0;
    inv.set_numa_nodes(n);
    for (uint32_t i = 0; i < n; ++i) {
      inv.add_numa_cpulists(
          ReadTrimmed(fs, absl::StrCat("/sys/devices/system/node/node", i, "/cpulist")));
    }
  }
  if (!inv.kernel_release().empty()) {
    auto config = fs.ReadFile("/boot/config-" + inv.kernel_release());
    if (config.ok()) {
      for (absl::string_view line : absl::StrSplit(*config, '\n')) {
        if (line == "CONFIG_IOMMU_DEFAULT_DMA_STRICT=y") inv.set_kernel_iommu_default("strict");
        if (line == "CONFIG_IOMMU_DEFAULT_DMA_LAZY=y") inv.set_kernel_iommu_default("lazy");
        if (line == "CONFIG_IOMMU_DEFAULT_PASSTHROUGH=y") {
          inv.set_kernel_iommu_default("passthrough");
        }
        if (line == "CONFIG_INTEL_IOMMU_DEFAULT_ON=y") inv.set_intel_iommu_default_on(true);
      }
    }
  }
  // VT-d nesting for iommufd's nested domains, on every unit: ECAP.NEST
  // (bit 26) in scalable mode (ECAP.SMTS, bit 43), as the kernel's
  // nested_supported() asks; the file holds the register in hex, no 0x.
  bool nesting = false;
  for (const std::string& unit : IommuUnits(fs)) {
    inv.add_iommu_units(unit);
    uint64_t ecap = 0;
    std::string text =
        ReadTrimmed(fs, absl::StrCat("/sys/class/iommu/", unit, "/intel-iommu/ecap"));
    bool has = !text.empty() && absl::SimpleHexAtoi(text, &ecap) && ((ecap >> 26) & 1) &&
               ((ecap >> 43) & 1);
    nesting = (inv.iommu_units_size() == 1 || nesting) && has;
  }
  inv.set_vtd_nesting(nesting);
  inv.set_iommufd(fs.Exists("/dev/iommu"));
  for (const NetInterface& n : NetInterfaces(fs)) {
    if (n.bdf.empty()) continue;  // lo, veth, bridges: not hardware under test
    v1::Nic* nic = inv.add_nics();
    nic->set_name(n.name);
    nic->set_bdf(n.bdf);
    nic->set_driver(n.driver);
    nic->set_speed_mbps(n.speed_mbps);
    nic->set_mac(n.mac);
    nic->set_numa_node(-1);
    if (auto d = FindPciDevice(fs, n.bdf)) {
      nic->set_numa_node(d->numa_node);
      nic->set_sriov_totalvfs(d->sriov_totalvfs);
      nic->set_sriov_numvfs(d->sriov_numvfs);
      nic->set_iommu_group(d->iommu_group);
    }
  }
  return inv;
}

std::map<std::string, std::string> ToolVersions(CommandRunner* runner) {
  std::map<std::string, std::string> versions;
  for (const VersionProbe& p : VersionProbes()) {
    if (!runner->Which(p.tool).ok()) continue;
    CommandSpec spec;
    spec.argv = p.argv;
    spec.timeout = absl::Seconds(5);
    auto r = runner->Run(spec);
    if (!r.ok()) continue;
    std::string text(absl::StripAsciiWhitespace(r->out.empty() ? r->err : r->out));
    std::string first = text.substr(0, text.find('\n'));
    if (!first.empty()) versions[p.tool] = first;
  }
  return versions;
}

void FillNodeFacts(const FileSystem& fs, CommandRunner* runner, v1::Register* reg) {
  reg->set_boot_id(BootId(fs));
  reg->set_kernel_cmdline(ReadTrimmed(fs, "/proc/cmdline"));
  *reg->mutable_inventory() = CollectInventory(fs);
  for (const auto& [tool, version] : ToolVersions(runner)) {
    (*reg->mutable_software_versions())[tool] = version;
  }
}

}  // namespace iommuvm::agent
