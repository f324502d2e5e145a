#include "agent/telemetry/collectors.h"

#include <algorithm>

#include "agent/telemetry/cpu_collector.h"
#include "agent/telemetry/interrupts_collector.h"
#include "agent/telemetry/memory_collector.h"
#include "agent/telemetry/network_collector.h"
#include "agent/telemetry/tracepoint_collector.h"

namespace iommuvm::agent {

std::vector<std::unique_ptr<Collector>> MakeCollectors(const std::vector<std::string>& names,
                                                       const FileSystem* fs, PerfCounters* perf,
                                                       CommandRunner* runner,
                                                       const std::string& server_cores) {
  auto wanted = [&](const char* name) {
    return names.empty() || std::find(names.begin(), names.end(), name) != names.end();
  };
  std::vector<std::unique_ptr<Collector>> out;
  if (wanted("cpu")) out.push_back(std::make_unique<CpuCollector>(fs, server_cores));
  if (wanted("interrupts")) out.push_back(std::make_unique<InterruptsCollector>(fs));
  if (wanted("softirqs")) out.push_back(std::make_unique<SoftirqsCollector>(fs));
  if (wanted("network")) out.push_back(std::make_unique<NetworkCollector>(fs, runner));
  if (wanted("memory")) out.push_back(std::make_unique<MemoryCollector>(fs));
  if (wanted("iommu_pmu") && perf != nullptr) {
    out.push_back(std::make_unique<IommuPmuCollector>(fs, perf));
  }
  if (wanted("iommu_trace") && perf != nullptr) {
    out.push_back(std::make_unique<IommuTraceCollector>(fs, perf));
  }
  return out;
}

}  // namespace iommuvm::agent
