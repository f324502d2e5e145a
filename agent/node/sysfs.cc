#include "agent/node/sysfs.h"

#include <algorithm>
#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace iommuvm::agent {
namespace {

// Resolves a relative link target against the directory holding the link.
std::string Resolve(const std::string& link_path, const std::string& target) {
  if (!target.empty() && target[0] == '/') return target;
  std::vector<std::string> parts = absl::StrSplit(link_path, '/', absl::SkipEmpty());
  if (!parts.empty()) parts.pop_back();  // the link itself
  for (absl::string_view piece : absl::StrSplit(target, '/', absl::SkipEmpty())) {
    if (piece == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (piece != ".") {
      parts.emplace_back(piece);
    }
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

// The last PCI address in a sysfs device path: the device itself, not its
// bridges ("/devices/pci0000:c0/0000:c0:01.1/0000:c1:00.0/net/x").
std::string LastBdf(const std::string& path) {
  static const std::regex kBdf("^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]$");
  std::string found;
  for (absl::string_view piece : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (std::regex_match(piece.begin(), piece.end(), kBdf)) found = std::string(piece);
  }
  return found;
}

}  // namespace

std::optional<std::string> SysfsLink(const FileSystem& fs, const std::string& path) {
  if (auto target = fs.ReadLink(path); target.ok()) return *target;
  auto content = fs.ReadFile(path);
  if (!content.ok() || content->size() > 4096) return std::nullopt;
  std::string text(absl::StripAsciiWhitespace(*content));
  bool looks_like_path = (absl::StartsWith(text, "../") || absl::StartsWith(text, "/")) &&
                         text.find('\n') == std::string::npos;
  if (!looks_like_path) return std::nullopt;
  return text;
}

std::string Basename(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::vector<std::string> IommuUnits(const FileSystem& fs) {
  auto names = fs.ListDir("/sys/class/iommu");
  return names.ok() ? *names : std::vector<std::string>{};
}

std::vector<IommuGroup> IommuGroups(const FileSystem& fs) {
  std::vector<IommuGroup> groups;
  auto ids = fs.ListDir("/sys/kernel/iommu_groups");
  if (!ids.ok()) return groups;
  for (const std::string& id : *ids) {
    std::string dir = "/sys/kernel/iommu_groups/" + id;
    IommuGroup g;
    g.id = id;
    g.type = ReadTrimmed(fs, dir + "/type");
    auto devices = fs.ListDir(dir + "/devices");
    if (devices.ok()) g.devices = *devices;
    groups.push_back(std::move(g));
  }
  auto numeric = [](const std::string& s) {
    uint64_t v = 0;
    return absl::SimpleAtoi(s, &v) ? v : UINT64_MAX;
  };
  std::sort(groups.begin(), groups.end(), [&](const IommuGroup& a, const IommuGroup& b) {
    return numeric(a.id) < numeric(b.id);
  });
  return groups;
}

std::optional<PciDevice> FindPciDevice(const FileSystem& fs, const std::string& bdf) {
  std::string link = "/sys/bus/pci/devices/" + bdf;
  auto target = SysfsLink(fs, link);
  std::string dir = target ? Resolve(link, *target) : link;
  if (!fs.Exists(dir + "/vendor") && !fs.Exists(dir + "/class")) return std::nullopt;
  PciDevice d;
  d.bdf = bdf;
  d.vendor = ReadTrimmed(fs, dir + "/vendor");
  d.device = ReadTrimmed(fs, dir + "/device");
  d.pci_class = ReadTrimmed(fs, dir + "/class");
  if (auto driver = SysfsLink(fs, dir + "/driver")) d.driver = Basename(*driver);
  if (auto group = SysfsLink(fs, dir + "/iommu_group")) d.iommu_group = Basename(*group);
  int numa = -1;
  if (absl::SimpleAtoi(ReadTrimmed(fs, dir + "/numa_node"), &numa)) d.numa_node = numa;
  absl::SimpleAtoi(ReadTrimmed(fs, dir + "/sriov_totalvfs"), &d.sriov_totalvfs);
  absl::SimpleAtoi(ReadTrimmed(fs, dir + "/sriov_numvfs"), &d.sriov_numvfs);
  return d;
}

std::vector<PciDevice> PciDevices(const FileSystem& fs) {
  std::vector<PciDevice> out;
  auto names = fs.ListDir("/sys/bus/pci/devices");
  if (!names.ok()) return out;
  for (const std::string& bdf : *names) {
    if (auto d = FindPciDevice(fs, bdf)) out.push_back(std::move(*d));
  }
  return out;
}

std::vector<NetInterface> NetInterfaces(const FileSystem& fs) {
  std::vector<NetInterface> out;
  auto names = fs.ListDir("/sys/class/net");
  if (!names.ok()) return out;
  for (const std::string& name : *names) {
    std::string link = "/sys/class/net/" + name;
    NetInterface n;
    n.name = name;
    auto target = SysfsLink(fs, link);
    std::string dir = target ? Resolve(link, *target) : link;
    if (target) n.bdf = LastBdf(dir);
    if (!n.bdf.empty()) {
      if (auto d = FindPciDevice(fs, n.bdf)) n.driver = d->driver;
    }
    n.mac = ReadTrimmed(fs, dir + "/address");
    int64_t speed = -1;
    if (absl::SimpleAtoi(ReadTrimmed(fs, dir + "/speed"), &speed) && speed > 0) n.speed_mbps = speed;
    out.push_back(std::move(n));
  }
  return out;
}

std::optional<NetInterface> DataPlaneNic(const FileSystem& fs, const std::string& wanted,
                                         std::vector<NetInterface>* pci) {
  std::vector<NetInterface> backed;
  std::optional<NetInterface> named;
  for (NetInterface& n : NetInterfaces(fs)) {
    if (!wanted.empty() && !named && (n.name == wanted || n.bdf == wanted)) named = n;
    if (!n.bdf.empty()) backed.push_back(std::move(n));
  }
  std::optional<NetInterface> chosen = named;
  if (wanted.empty() && backed.size() == 1) chosen = backed[0];
  if (pci != nullptr) *pci = std::move(backed);
  return chosen;
}

}  // namespace iommuvm::agent
