#include "common/cpu_list.h"

#include <iterator>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace iommuvm {

absl::StatusOr<std::set<int>> ParseCpuList(const std::string& list) {
  std::set<int> cpus;
  if (list.empty()) return cpus;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    std::vector<absl::string_view> range = absl::StrSplit(part, '-');
    uint32_t lo = 0, hi = 0;
    bool ok = (range.size() == 1 && absl::SimpleAtoi(range[0], &lo)) ||
              (range.size() == 2 && absl::SimpleAtoi(range[0], &lo) &&
               absl::SimpleAtoi(range[1], &hi) && lo <= hi);
    if (range.size() == 1) hi = lo;
    if (!ok || lo > 4095 || hi > 4095) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", list,
                       "' is not a CPU list; write CPUs and ranges such as "
                       "0-3,8 (CPUs 0 to 4095)"));
    }
    for (uint32_t c = lo; c <= hi; ++c) cpus.insert(static_cast<int>(c));
  }
  return cpus;
}

std::string FormatCpuList(const std::vector<int>& cpus) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    parts.push_back(j == i ? absl::StrCat(cpus[i]) : absl::StrCat(cpus[i], "-", cpus[j]));
    i = j + 1;
  }
  return absl::StrJoin(parts, ",");
}

absl::StatusOr<int> CpuAt(const std::string& list, size_t index) {
  auto cpus = ParseCpuList(list);
  if (!cpus.ok()) return cpus.status();
  if (cpus->empty()) return absl::InvalidArgumentError("an empty CPU list has no CPUs to pin to");
  auto it = cpus->begin();
  std::advance(it, index % cpus->size());
  return *it;
}

std::vector<std::string> PinnedCommand(const std::string& cpus, std::vector<std::string> argv) {
  if (!cpus.empty()) argv.insert(argv.begin(), {"taskset", "-c", cpus});
  return argv;
}

const std::string& ProgramOf(const std::vector<std::string>& argv) {
  return argv.size() > 3 && argv[0] == "taskset" && argv[1] == "-c" ? argv[3] : argv.at(0);
}

}  // namespace iommuvm
