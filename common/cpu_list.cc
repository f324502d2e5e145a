#include "common/cpu_list.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
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

}  // namespace iommuvm
