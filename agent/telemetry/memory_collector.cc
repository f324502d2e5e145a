#include "agent/telemetry/memory_collector.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace iommuvm::agent {

absl::Status MemoryCollector::Collect(absl::Time now, std::vector<v1::MetricSample>* out) {
  ASSIGN_OR_RETURN(std::string text, fs_->ReadFile("/proc/meminfo"));
  uint64_t total = 0, available = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 2) continue;
    if (f[0] == "MemTotal:") (void)absl::SimpleAtoi(f[1], &total);
    if (f[0] == "MemAvailable:") (void)absl::SimpleAtoi(f[1], &available);
  }
  if (total == 0) return absl::DataLossError("/proc/meminfo has no MemTotal");
  out->push_back(
      MakeSample("node_memory_used_bytes", now, static_cast<double>(total - available) * 1024));
  out->push_back(
      MakeSample("node_memory_available_bytes", now, static_cast<double>(available) * 1024));
  return absl::OkStatus();
}

}  // namespace iommuvm::agent
