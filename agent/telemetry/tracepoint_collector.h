#pragma once
// Kernel work counted at its tracepoints with perf_event_open (counting,
// not tracing: no buffer, no per-event cost beyond the counter), one
// counter per online CPU and event, reported per second. Tracepoint ids
// come from tracefs (/sys/kernel/tracing, else /sys/kernel/debug/tracing).
// A kernel without the tracepoints (or without tracefs) makes the
// collector unavailable, said once. Two sets:
//
// IommuTraceCollector ("iommu_trace"): iommu:map, iommu:unmap,
// iommu:io_page_fault and, on Intel, intel_iommu:qi_submit (each
// queued-invalidation submission: the IOTLB and device-TLB flushes strict
// mode issues per unmap, lazy mode per batch), as iommu_{maps,unmaps,
// faults,invalidations}_per_second. This is what explains a strict/lazy
// difference, and it is far less noisy than throughput.
//
// KvmExitCollector ("kvm_exits", on a VM run's host under KVM): every VM
// exit (kvm:kvm_exit), the exits QEMU had to handle (kvm:kvm_userspace_exit:
// device emulation, the vIOMMU's among it) and emulated MMIO accesses
// (kvm:kvm_mmio: a shadowing vIOMMU's invalidation registers, virtio
// doorbells), as vm_{exits,userspace_exits,mmio}_per_second.

#include <string>
#include <vector>

#include "agent/telemetry/collector.h"
#include "agent/telemetry/iommu_pmu_collector.h"
#include "common/file_system.h"

namespace iommuvm::agent {

struct Tracepoint {
  std::string event;   // system/name under events/ ("iommu/map")
  std::string metric;  // "iommu_maps_per_second"
};

class TracepointCollector : public Collector {
 public:
  // `tracepoints[0]` must exist for the collector to work (the others are
  // counted where the kernel has them); `missing` says why it would not.
  TracepointCollector(const FileSystem* fs, PerfCounters* perf, std::string name,
                      std::vector<Tracepoint> tracepoints, std::string missing)
      : fs_(fs),
        perf_(perf),
        name_(std::move(name)),
        tracepoints_(std::move(tracepoints)),
        missing_(std::move(missing)) {}
  ~TracepointCollector() override;
  std::string name() const override { return name_; }
  absl::Status Collect(absl::Time now, std::vector<v1::MetricSample>* out) override;

 private:
  struct Counter {
    std::string metric;
    std::vector<int> handles;  // one per online CPU
    uint64_t last = 0;
  };
  absl::Status Open();
  uint64_t Sum(const Counter& c);

  const FileSystem* fs_;
  PerfCounters* perf_;
  std::string name_;
  std::vector<Tracepoint> tracepoints_;
  std::string missing_;
  bool opened_ = false;
  std::vector<Counter> counters_;
  absl::Time last_time_;
};

class IommuTraceCollector final : public TracepointCollector {
 public:
  IommuTraceCollector(const FileSystem* fs, PerfCounters* perf);
};

class KvmExitCollector final : public TracepointCollector {
 public:
  KvmExitCollector(const FileSystem* fs, PerfCounters* perf);
};

}  // namespace iommuvm::agent
