#include "agent/node/numa_cpus.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/cpu_list.h"

namespace iommuvm::agent {

absl::StatusOr<CpuChoice> ResolveCpus(const FileSystem& fs, const std::string& choice,
                                      const std::string& data_nic) {
  CpuChoice t;
  std::string list = choice;
  uint32_t count = 0;  // auto:N
  bool is_auto = choice == "auto" || absl::StartsWith(choice, "auto:");
  if (absl::StartsWith(choice, "auto:") &&
      (!absl::SimpleAtoi(choice.substr(5), &count) || count == 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", choice, "': expected auto, auto:N (N > 0) or a CPU list"));
  }
  if (is_auto) {
    std::string node =
        data_nic.empty()
            ? ""
            : ReadTrimmed(fs, absl::StrCat("/sys/class/net/", data_nic, "/device/numa_node"));
    if (!node.empty() && node != "-1") {
      list = ReadTrimmed(fs, absl::StrCat("/sys/devices/system/node/node", node, "/cpulist"));
      t.how = absl::StrCat("NUMA node ", node, " of ", data_nic);
    } else {
      list = ReadTrimmed(fs, "/sys/devices/system/cpu/online");
      t.how = absl::StrCat("every online CPU (",
                           data_nic.empty() ? "no data NIC named" : data_nic + " has no NUMA node",
                           ")");
    }
  } else {
    t.how = "as listed";
  }
  auto cpus = ParseCpuList(list);
  if (!cpus.ok()) return cpus.status();
  if (cpus->empty()) {
    return absl::FailedPreconditionError(absl::StrCat("'", choice, "': no CPUs"));
  }
  t.cpus.assign(cpus->begin(), cpus->end());
  if (count > 0) {
    if (count > t.cpus.size()) {
      return absl::FailedPreconditionError(
          absl::StrCat("'", choice, "': ", t.how, " has only ", t.cpus.size(), " CPUs"));
    }
    t.cpus.resize(count);
    t.how = absl::StrCat("auto: ", count, " CPUs of ", t.how);
  } else if (is_auto) {
    t.how = absl::StrCat("auto: ", t.how);
  }
  return t;
}

}  // namespace iommuvm::agent
