#pragma once
// The collectors a step asks for, by the names specs use (telemetry.collectors).

#include <memory>
#include <string>
#include <vector>

#include "agent/telemetry/collector.h"
#include "agent/telemetry/iommu_pmu_collector.h"
#include "common/command_runner.h"
#include "common/file_system.h"

namespace iommuvm::agent {

// Collectors for `names` (empty: all of them), reading /proc and /sys
// through `fs`; `perf` serves the iommu_pmu collector. Unknown names are
// skipped (specs are validated upstream).
// `runner` (may be null) runs ethtool for NIC counters. `server_cores`
// (a CPU list, "" none) adds the busy share of the server's pinned cores.
std::vector<std::unique_ptr<Collector>> MakeCollectors(const std::vector<std::string>& names,
                                                       const FileSystem* fs, PerfCounters* perf,
                                                       CommandRunner* runner = nullptr,
                                                       const std::string& server_cores = "");

}  // namespace iommuvm::agent
