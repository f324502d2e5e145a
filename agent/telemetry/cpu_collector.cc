#include "agent/telemetry/cpu_collector.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace iommuvm::agent {

absl::Status CpuCollector::Collect(absl::Time now, std::vector<v1::MetricSample>* out) {
  ASSIGN_OR_RETURN(std::string stat, fs_->ReadFile("/proc/stat"));
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice"
  std::vector<absl::string_view> lines = absl::StrSplit(stat, '\n');
  if (lines.empty() || !absl::StartsWith(lines[0], "cpu ")) {
    return absl::DataLossError("/proc/stat has no aggregate cpu line");
  }
  std::vector<absl::string_view> f = absl::StrSplit(lines[0], ' ', absl::SkipEmpty());
  Totals t;
  for (size_t i = 1; i < f.size() && i <= 8; ++i) {  // guest time is inside user
    uint64_t v = 0;
    if (!absl::SimpleAtoi(f[i], &v)) return absl::DataLossError("bad /proc/stat cpu line");
    t.total += v;
    if (i != 4 && i != 5) t.busy += v;  // idle and iowait are not busy
  }
  if (previous_ && t.total > previous_->total && t.busy >= previous_->busy) {
    out->push_back(MakeSample("node_cpu_utilization", now,
                              static_cast<double>(t.busy - previous_->busy) /
                                  static_cast<double>(t.total - previous_->total)));
  }
  previous_ = t;
  return absl::OkStatus();
}

}  // namespace iommuvm::agent
