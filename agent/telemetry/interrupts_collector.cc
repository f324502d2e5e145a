#include "agent/telemetry/interrupts_collector.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace iommuvm::agent {
namespace {

// The device part of an interrupt description: its last word
// ("PCI-MSIX-0000:ca:00.0 3-edge mlx5_comp3@pci:0000:ca:00.0" -> the
// queue name); descriptions of per-CPU interrupts (NMI, LOC) are prose.
std::string DeviceName(const std::string& key, const std::string& description) {
  if (key.empty() || !absl::ascii_isdigit(key[0])) return description;
  std::vector<std::string> words = absl::StrSplit(description, ' ', absl::SkipEmpty());
  return words.empty() ? "" : words.back();
}

}  // namespace

absl::Status InterruptsCollector::Collect(absl::Time now, std::vector<v1::MetricSample>* out) {
  ASSIGN_OR_RETURN(std::string text, fs_->ReadFile("/proc/interrupts"));
  ASSIGN_OR_RETURN(PerCpuTable table, ParsePerCpuTable(text));
  if (previous_ && now > previous_time_) {
    double seconds = absl::ToDoubleSeconds(now - previous_time_);
    double total = 0;
    for (const auto& [key, row] : table.rows) {
      auto before = previous_->rows.find(key);
      if (before == previous_->rows.end()) continue;
      uint64_t delta = RowDelta(before->second, row);
      total += static_cast<double>(delta);
      if (delta == 0) continue;  // quiet IRQs would only add volume
      v1::MetricSample s = MakeSample("node_interrupts_per_second", now, delta / seconds);
      (*s.mutable_labels())["irq"] = key;
      (*s.mutable_labels())["name"] = DeviceName(key, row.description);
      out->push_back(std::move(s));
    }
    out->push_back(MakeSample("node_interrupts_total_per_second", now, total / seconds));
  }
  previous_ = std::move(table);
  previous_time_ = now;
  return absl::OkStatus();
}

absl::Status SoftirqsCollector::Collect(absl::Time now, std::vector<v1::MetricSample>* out) {
  ASSIGN_OR_RETURN(std::string text, fs_->ReadFile("/proc/softirqs"));
  ASSIGN_OR_RETURN(PerCpuTable table, ParsePerCpuTable(text));
  if (previous_ && now > previous_time_) {
    double seconds = absl::ToDoubleSeconds(now - previous_time_);
    for (const auto& [key, row] : table.rows) {
      auto before = previous_->rows.find(key);
      if (before == previous_->rows.end()) continue;
      v1::MetricSample s =
          MakeSample("node_softirqs_per_second", now, RowDelta(before->second, row) / seconds);
      (*s.mutable_labels())["type"] = key;
      out->push_back(std::move(s));
    }
  }
  previous_ = std::move(table);
  previous_time_ = now;
  return absl::OkStatus();
}

}  // namespace iommuvm::agent
