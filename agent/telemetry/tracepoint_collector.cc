#include "agent/telemetry/tracepoint_collector.h"

#include <linux/perf_event.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/cpu_list.h"

namespace iommuvm::agent {
namespace {

// Where tracefs is mounted: its own mount point since 4.1, under debugfs
// before (and still, where only debugfs is mounted).
constexpr const char* kTraceRoots[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};

// iommu:map/unmap/io_page_fault are in drivers/iommu/iommu.c since 3.x;
// intel_iommu:qi_submit (drivers/iommu/intel/trace.h) since 5.9. AMD's
// driver has no invalidation tracepoint.
std::vector<Tracepoint> IommuTracepoints() {
  return {{"iommu/map", "iommu_maps_per_second"},
          {"iommu/unmap", "iommu_unmaps_per_second"},
          {"iommu/io_page_fault", "iommu_faults_per_second"},
          {"intel_iommu/qi_submit", "iommu_invalidations_per_second"}};
}

// arch/x86/kvm/trace.h (kvm_exit) and include/trace/events/kvm.h
// (kvm_userspace_exit, kvm_mmio), all present in 5.4..6.12.
std::vector<Tracepoint> KvmTracepoints() {
  return {{"kvm/kvm_exit", "vm_exits_per_second"},
          {"kvm/kvm_userspace_exit", "vm_userspace_exits_per_second"},
          {"kvm/kvm_mmio", "vm_mmio_per_second"}};
}

}  // namespace

IommuTraceCollector::IommuTraceCollector(const FileSystem* fs, PerfCounters* perf)
    : TracepointCollector(fs, perf, "iommu_trace", IommuTracepoints(),
                          "no iommu tracepoints: tracefs is not mounted (mount -t tracefs nodev "
                          "/sys/kernel/tracing) or the kernel has no IOMMU") {}

KvmExitCollector::KvmExitCollector(const FileSystem* fs, PerfCounters* perf)
    : TracepointCollector(fs, perf, "kvm_exits", KvmTracepoints(),
                          "no kvm tracepoints: tracefs is not mounted (mount -t tracefs nodev "
                          "/sys/kernel/tracing) or the kvm module is not loaded") {}

TracepointCollector::~TracepointCollector() {
  for (const Counter& c : counters_) {
    for (int h : c.handles) perf_->Close(h);
  }
}

absl::Status TracepointCollector::Open() {
  opened_ = true;
  std::string root;
  for (const char* r : kTraceRoots) {
    if (fs_->Exists(absl::StrCat(r, "/events/", tracepoints_.front().event, "/id"))) {
      root = r;
      break;
    }
  }
  if (root.empty()) return absl::UnavailableError(missing_);
  auto online = fs_->ReadFile("/sys/devices/system/cpu/online");
  if (!online.ok()) return online.status();
  auto cpus = ParseCpuList(std::string(absl::StripAsciiWhitespace(*online)));
  if (!cpus.ok()) return cpus.status();
  for (const Tracepoint& t : tracepoints_) {
    auto id_text = fs_->ReadFile(absl::StrCat(root, "/events/", t.event, "/id"));
    uint64_t id = 0;
    if (!id_text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*id_text), &id)) continue;
    Counter c;
    c.metric = t.metric;
    for (int cpu : *cpus) {
      PerfCounters::Attr attr;
      attr.type = PERF_TYPE_TRACEPOINT;
      attr.config = id;
      auto h = perf_->Open(attr, cpu);
      if (!h.ok()) {
        for (int opened : c.handles) perf_->Close(opened);
        return absl::UnavailableError(
            absl::StrCat("cannot count ", t.event, " on cpu ", cpu, ": ", h.status().message(),
                         " (root, or kernel.perf_event_paranoid <= 0, is needed)"));
      }
      c.handles.push_back(*h);
    }
    c.last = Sum(c);
    counters_.push_back(std::move(c));
  }
  return absl::OkStatus();
}

uint64_t TracepointCollector::Sum(const Counter& c) {
  uint64_t total = 0;
  for (int h : c.handles) total += perf_->Read(h).value_or(0);
  return total;
}

absl::Status TracepointCollector::Collect(absl::Time now, std::vector<v1::MetricSample>* out) {
  if (!opened_) {
    last_time_ = now;
    return Open();  // the first interval starts now
  }
  if (counters_.empty()) return absl::UnavailableError(missing_);
  double seconds = absl::ToDoubleSeconds(now - last_time_);
  last_time_ = now;
  if (seconds <= 0) return absl::OkStatus();
  for (Counter& c : counters_) {
    uint64_t total = Sum(c);
    uint64_t delta = total >= c.last ? total - c.last : 0;
    c.last = total;
    out->push_back(MakeSample(c.metric, now, static_cast<double>(delta) / seconds));
  }
  return absl::OkStatus();
}

}  // namespace iommuvm::agent
