#include "agent/vm/qemu_features.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace iommuvm::agent {

std::vector<std::string> DeviceProperties(const std::string& help) {
  std::vector<std::string> names;
  for (absl::string_view line : absl::StrSplit(help, '\n')) {
    line = absl::StripLeadingAsciiWhitespace(line);
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos || eq == 0) continue;
    absl::string_view name = line.substr(0, eq);
    if (name.find(' ') != absl::string_view::npos) continue;
    names.emplace_back(name);
  }
  return names;
}

std::vector<std::string> QemuFeatures(CommandRunner* runner, const std::string& qemu_binary) {
  std::vector<std::string> features;
  const std::vector<std::pair<std::string, std::vector<std::string>>> wanted = {
      {"intel-iommu", {"x-scalable-mode", "x-flts"}}, {"vfio-pci", {"iommufd"}}};
  for (const auto& [device, properties] : wanted) {
    CommandSpec spec;
    spec.argv = {qemu_binary, "-machine", "none", "-device", device + ",help"};
    spec.timeout = absl::Seconds(10);
    auto r = runner->Run(spec);
    if (!r.ok() || !r->ok()) continue;
    std::vector<std::string> has = DeviceProperties(r->out);
    for (const std::string& p : properties) {
      if (std::find(has.begin(), has.end(), p) != has.end()) {
        features.push_back(absl::StrCat(device, ".", p));
      }
    }
  }
  return features;
}

}  // namespace iommuvm::agent
