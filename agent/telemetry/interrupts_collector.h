#pragma once
// Interrupts from /proc/interrupts: per IRQ, events/s over the interval
// with the IRQ's device or queue name (mlx5_comp3@pci:0000:ca:00.0,
// virtio0-input.0), as "node_interrupts_per_second{irq,name}" for IRQs that
// fired, plus the node total "node_interrupts_total_per_second".

#include <optional>

#include "agent/telemetry/collector.h"
#include "agent/telemetry/per_cpu_table.h"
#include "common/file_system.h"

namespace iommuvm::agent {

class InterruptsCollector final : public Collector {
 public:
  explicit InterruptsCollector(const FileSystem* fs) : fs_(fs) {}
  std::string name() const override { return "interrupts"; }
  absl::Status Collect(absl::Time now, std::vector<v1::MetricSample>* out) override;

 private:
  const FileSystem* fs_;
  std::optional<PerCpuTable> previous_;
  absl::Time previous_time_;
};

// Softirqs from /proc/softirqs: NET_RX and NET_TX (and the rest) events/s,
// as "node_softirqs_per_second{type}".
class SoftirqsCollector final : public Collector {
 public:
  explicit SoftirqsCollector(const FileSystem* fs) : fs_(fs) {}
  std::string name() const override { return "softirqs"; }
  absl::Status Collect(absl::Time now, std::vector<v1::MetricSample>* out) override;

 private:
  const FileSystem* fs_;
  std::optional<PerCpuTable> previous_;
  absl::Time previous_time_;
};

}  // namespace iommuvm::agent
