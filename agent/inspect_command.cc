#include "agent/inspect_command.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/node/inventory.h"
#include "agent/node/iommu_probe.h"
#include "common/args.h"
#include "common/command_runner.h"
#include "common/file_system.h"
#include "common/table.h"

namespace iommuvm::agent {
namespace {

constexpr char kUsage[] =
    "usage: iommuvm-agent inspect [--sysroot DIR] [--kernel-log FILE] [--nic NAME|BDF]\n"
    "                             [--format table|json]\n"
    "Prints the IOMMU mode this node's command line requests, the mode it actually runs\n"
    "(off, passthrough, lazy, strict, or mixed with the per-group breakdown), the evidence\n"
    "(command line, /sys/class/iommu, every IOMMU group's type, kernel log lines), warnings\n"
    "and the inventory. --sysroot reads /proc and /sys below DIR (a captured node);\n"
    "--kernel-log reads a saved `dmesg` instead of the live kernel log (default with\n"
    "--sysroot: DIR/dmesg.txt when present). Exit 0 when the mode could be determined.\n";

std::string JsonList(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  for (const auto& i : items) quoted.push_back(JsonEscape(i));
  return absl::StrCat("[", absl::StrJoin(quoted, ", "), "]");
}

void PrintJson(std::ostream& out, const IommuProbe& p, const v1::Inventory& inv,
               const std::map<std::string, std::string>& tools) {
  out << "{\n  \"requested_mode\": " << JsonEscape(ModeName(p.requested))
      << ",\n  \"detected_mode\": " << JsonEscape(p.detected)
      << ",\n  \"cmdline\": " << JsonEscape(p.cmdline)
      << ",\n  \"data_plane\": {\"nic\": " << JsonEscape(p.data_nic.name)
      << ", \"bdf\": " << JsonEscape(p.data_nic.bdf)
      << ", \"driver\": " << JsonEscape(p.data_nic.driver)
      << ", \"iommu_group\": " << JsonEscape(p.data_group)
      << ", \"group_type\": " << JsonEscape(p.data_group_type)
      << ", \"mode\": " << JsonEscape(p.data_mode) << "}"
      << ",\n  \"iommu_units\": " << JsonList(p.iommu_units) << ",\n  \"groups\": [";
  for (size_t i = 0; i < p.groups.size(); ++i) {
    const IommuGroup& g = p.groups[i];
    out << (i ? "," : "") << "\n    {\"id\": " << JsonEscape(g.id)
        << ", \"type\": " << JsonEscape(g.type) << ", \"mode\": " << JsonEscape(p.group_modes[i])
        << ", \"devices\": " << JsonList(g.devices) << "}";
  }
  out << (p.groups.empty() ? "]" : "\n  ]")
      << ",\n  \"kernel_log\": {\"read\": " << (p.kernel_log_read ? "true" : "false")
      << ", \"default_domain\": " << JsonEscape(p.kernel_log.default_domain)
      << ", \"tlb_policy\": " << JsonEscape(p.kernel_log.tlb_policy)
      << ", \"batching_disallowed\": " << (p.kernel_log.batching_disallowed ? "true" : "false")
      << "},\n  \"evidence\": " << JsonList(p.evidence)
      << ",\n  \"warnings\": " << JsonList(p.warnings) << ",\n  \"inventory\": {"
      << "\"hostname\": " << JsonEscape(inv.hostname())
      << ", \"cpu_vendor\": " << JsonEscape(inv.cpu_vendor())
      << ", \"cpu_model\": " << JsonEscape(inv.cpu_model()) << ", \"cpus\": " << inv.cpu_cores()
      << ", \"numa_nodes\": " << inv.numa_nodes() << ", \"memory_bytes\": " << inv.memory_bytes()
      << ", \"kernel_release\": " << JsonEscape(inv.kernel_release())
      << ", \"kernel_iommu_default\": " << JsonEscape(inv.kernel_iommu_default())
      << ", \"nics\": [";
  for (int i = 0; i < inv.nics_size(); ++i) {
    const v1::Nic& n = inv.nics(i);
    out << (i ? ", " : "") << "{\"name\": " << JsonEscape(n.name())
        << ", \"bdf\": " << JsonEscape(n.bdf()) << ", \"driver\": " << JsonEscape(n.driver())
        << ", \"speed_mbps\": " << n.speed_mbps() << ", \"numa_node\": " << n.numa_node()
        << ", \"sriov_totalvfs\": " << n.sriov_totalvfs()
        << ", \"iommu_group\": " << JsonEscape(n.iommu_group()) << "}";
  }
  out << "], \"tools\": {";
  bool first = true;
  for (const auto& [tool, version] : tools) {
    out << (first ? "" : ", ") << JsonEscape(tool) << ": " << JsonEscape(version);
    first = false;
  }
  out << "}}\n}\n";
}

void PrintText(std::ostream& out, const IommuProbe& p, const v1::Inventory& inv,
               const std::map<std::string, std::string>& tools) {
  out << "requested mode  " << ModeName(p.requested) << "  (" << p.cmdline << ")\n"
      << "detected mode   " << p.detected << "\n";
  if (!p.data_nic.name.empty()) {
    out << "data-plane NIC  " << p.data_nic.name << " " << p.data_nic.bdf << " "
        << p.data_nic.driver;
    if (!p.data_group.empty()) {
      out << ", group " << p.data_group << " type " << p.data_group_type << " -> "
          << p.data_mode;
    }
    out << "\n";
  }
  if (!p.groups.empty()) {
    Table t({{"group", true}, {"type"}, {"mode"}, {"devices"}});
    for (size_t i = 0; i < p.groups.size(); ++i) {
      t.AddRow({p.groups[i].id, p.groups[i].type, p.group_modes[i],
                absl::StrJoin(p.groups[i].devices, " ")});
    }
    out << "\n";
    t.Print(out, Format::kTable);
  }
  out << "\nevidence:\n";
  for (const auto& e : p.evidence) out << "  " << e << "\n";
  if (!p.warnings.empty()) {
    out << "warnings:\n";
    for (const auto& w : p.warnings) out << "  " << w << "\n";
  }
  out << "inventory:\n  cpu " << inv.cpu_vendor() << " " << inv.cpu_model() << ", "
      << inv.cpu_cores() << " CPUs, " << inv.numa_nodes() << " NUMA nodes, "
      << inv.memory_bytes() / (1 << 20) << " MiB\n  kernel " << inv.kernel_release()
      << (inv.kernel_iommu_default().empty()
              ? ""
              : absl::StrCat(" (built-in IOMMU default ", inv.kernel_iommu_default(), ")"))
      << "\n  iommu units " << absl::StrJoin(inv.iommu_units(), ", ") << "\n";
  for (const v1::Nic& n : inv.nics()) {
    out << "  nic " << n.name() << " " << n.bdf() << " " << n.driver() << " numa "
        << n.numa_node() << " speed " << n.speed_mbps() << " Mb/s sriov " << n.sriov_totalvfs()
        << " group " << n.iommu_group() << "\n";
  }
  for (const auto& [tool, version] : tools) out << "  " << tool << ": " << version << "\n";
}

}  // namespace

int RunInspect(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  auto args = ParseArgs(argv, {"sysroot", "kernel-log", "nic", "format"}, {"help"});
  if (!args.ok() || !args->positional.empty()) {
    err << "iommuvm-agent inspect: "
        << (args.ok() ? "unexpected argument '" + args->positional[0] + "'"
                      : std::string(args.status().message()))
        << "\n"
        << kUsage;
    return 2;
  }
  if (args->Has("help")) {
    out << kUsage;
    return 0;
  }
  std::string format = args->Get("format", "table");
  if (format != "table" && format != "json") {
    err << "iommuvm-agent inspect: --format must be table or json\n";
    return 2;
  }
  std::string sysroot = args->Get("sysroot", "/");
  LocalFileSystem fs(sysroot);
  LocalCommandRunner runner;

  absl::StatusOr<std::string> log;
  std::string log_file = args->Get("kernel-log", "");
  if (!log_file.empty()) {
    // The log file is the user's path, not one below the sysroot.
    log = LocalFileSystem("/").ReadFile(log_file);
    if (!log.ok()) {
      err << "iommuvm-agent inspect: cannot read kernel log " << log_file << "\n";
      return 1;
    }
  } else {
    log = ReadKernelLogOf(fs, &runner);
  }
  IommuProbe probe = ProbeIommu(fs, log.ok() ? *log : "", log.ok(), args->Get("nic", ""));
  v1::Inventory inv = CollectInventory(fs);
  // Tool versions describe this machine, not a captured sysroot.
  std::map<std::string, std::string> tools;
  if (sysroot == "/") tools = ToolVersions(&runner);
  if (format == "json") {
    PrintJson(out, probe, inv, tools);
  } else {
    PrintText(out, probe, inv, tools);
  }
  return probe.detected == "unknown" ? 1 : 0;
}

}  // namespace iommuvm::agent
