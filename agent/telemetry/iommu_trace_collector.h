#pragma once
// The IOMMU work the kernel does, counted at its tracepoints with
// perf_event_open (counting, not tracing: no buffer, no per-event cost
// beyond the counter): iommu:map, iommu:unmap, iommu:io_page_fault and, on
// Intel, intel_iommu:qi_submit (each queued-invalidation submission: the
// IOTLB and device-TLB flushes strict mode issues per unmap, lazy mode per
// batch). This is what explains a strict/lazy difference, and it is far
// less noisy than throughput. Tracepoint ids come from tracefs
// (/sys/kernel/tracing, else /sys/kernel/debug/tracing); one counter per
// online CPU and event. Reported as iommu_{maps,unmaps,faults,
// invalidations}_per_second. A kernel without the tracepoints (or without
// tracefs) makes the collector unavailable, said once.

#include <string>
#include <vector>

#include "agent/telemetry/collector.h"
#include "agent/telemetry/iommu_pmu_collector.h"
#include "common/file_system.h"

namespace iommuvm::agent {

class IommuTraceCollector final : public Collector {
 public:
  IommuTraceCollector(const FileSystem* fs, PerfCounters* perf) : fs_(fs), perf_(perf) {}
  ~IommuTraceCollector() override;
  std::string name() const override { return "iommu_trace"; }
  absl::Status Collect(absl::Time now, std::vector<v1::MetricSample>* out) override;

 private:
  struct Counter {
    std::string metric;        // iommu_maps_per_second, ...
    std::vector<int> handles;  // one per online CPU
    uint64_t last = 0;
  };
  absl::Status Open();
  uint64_t Sum(const Counter& c);

  const FileSystem* fs_;
  PerfCounters* perf_;
  bool opened_ = false;
  std::vector<Counter> counters_;
  absl::Time last_time_;
};

}  // namespace iommuvm::agent
