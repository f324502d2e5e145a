#pragma once
// PerfCounters for tests: records what was opened (attr, cpu); a handle is
// its index in `opened`, and reads return `values[handle]`.

#include <map>
#include <utility>
#include <vector>

#include "agent/telemetry/iommu_pmu_collector.h"

namespace iommuvm::agent {

class FakePerf final : public PerfCounters {
 public:
  absl::StatusOr<int> Open(const Attr& attr, int cpu) override {
    opened.push_back({attr, cpu});
    return static_cast<int>(opened.size() - 1);
  }
  absl::StatusOr<uint64_t> Read(int handle) override { return values[handle]; }
  void Close(int) override {}
  std::vector<std::pair<Attr, int>> opened;
  std::map<int, uint64_t> values;
};

}  // namespace iommuvm::agent
