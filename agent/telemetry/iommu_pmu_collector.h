#pragma once
// IOMMU hardware counters through perf_event_open, when the kernel exposes
// them: AMD's per-IOMMU PMUs (amd_iommu_N: IOTLB hits/misses, page-table
// walks, translated/untranslated requests) and Intel's IIO PMUs
// (uncore_iio_N: IOTLB lookups, misses, invalidations — where the kernel
// names such events in sysfs). Events and their encodings are read from
// /sys/bus/event_source/devices/<pmu>/{type,cpumask,events/*,format/*}, so
// no event table is hard-coded. Counts become events/s as
// "iommu_pmu_events_per_second{pmu,event}". Without such a PMU the
// collector says so once (the sampler reports it as unavailable).

#include <memory>
#include <string>
#include <vector>

#include "agent/telemetry/collector.h"
#include "common/file_system.h"

namespace iommuvm::agent {

// The perf_event_open side, replaceable in tests.
class PerfCounters {
 public:
  virtual ~PerfCounters() = default;
  struct Attr {
    uint32_t type = 0;
    uint64_t config = 0, config1 = 0, config2 = 0;
  };
  // A counting (not sampling) event on `cpu` for all processes.
  virtual absl::StatusOr<int> Open(const Attr& attr, int cpu) = 0;
  virtual absl::StatusOr<uint64_t> Read(int handle) = 0;
  virtual void Close(int handle) = 0;
};
std::unique_ptr<PerfCounters> MakeLinuxPerfCounters();

// An event of a PMU: "csource=0x02" with format "csource: config:0-7"
// encodes as config = 0x02. Exposed for tests.
absl::StatusOr<PerfCounters::Attr> EncodeEvent(const FileSystem& fs, const std::string& pmu_dir,
                                              const std::string& event);

class IommuPmuCollector final : public Collector {
 public:
  IommuPmuCollector(const FileSystem* fs, PerfCounters* perf) : fs_(fs), perf_(perf) {}
  ~IommuPmuCollector() override;
  std::string name() const override { return "iommu_pmu"; }
  absl::Status Collect(absl::Time now, std::vector<v1::MetricSample>* out) override;

 private:
  struct Counter {
    std::string pmu, event;
    int handle = -1;
    uint64_t last = 0;
  };
  absl::Status Open();

  const FileSystem* fs_;
  PerfCounters* perf_;
  bool opened_ = false;
  std::vector<Counter> counters_;
  absl::Time last_time_;
};

}  // namespace iommuvm::agent
