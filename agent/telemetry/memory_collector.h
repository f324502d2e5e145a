#pragma once
// Memory from /proc/meminfo: "node_memory_used_bytes" (MemTotal -
// MemAvailable) and "node_memory_available_bytes".

#include "agent/telemetry/collector.h"
#include "common/file_system.h"

namespace iommuvm::agent {

class MemoryCollector final : public Collector {
 public:
  explicit MemoryCollector(const FileSystem* fs) : fs_(fs) {}
  std::string name() const override { return "memory"; }
  absl::Status Collect(absl::Time now, std::vector<v1::MetricSample>* out) override;

 private:
  const FileSystem* fs_;
};

}  // namespace iommuvm::agent
