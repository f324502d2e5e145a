#pragma once
// Node CPU utilisation from /proc/stat: busy share of all CPUs over the
// interval (0..1), as metric "node_cpu_utilization".

#include <cstdint>
#include <optional>

#include "agent/telemetry/collector.h"
#include "common/file_system.h"

namespace iommuvm::agent {

class CpuCollector final : public Collector {
 public:
  explicit CpuCollector(const FileSystem* fs) : fs_(fs) {}
  std::string name() const override { return "cpu"; }
  absl::Status Collect(absl::Time now, std::vector<v1::MetricSample>* out) override;

 private:
  struct Totals {
    uint64_t busy = 0;
    uint64_t total = 0;
  };
  const FileSystem* fs_;
  std::optional<Totals> previous_;
};

}  // namespace iommuvm::agent
