#pragma once
// What the client measures of its own limits during a load, for the
// controller's bottleneck verdict (results/bottleneck.h): how busy the
// generator was (its CPU time over its threads and the wall time) and how
// full the data link was (the busier direction of the data interface
// against its speed).

#include <cstdint>
#include <optional>
#include <string>

#include "common/file_system.h"

namespace iommuvm::agent {

// CPU seconds (user + system) of this process's children that have ended
// and been waited for (getrusage RUSAGE_CHILDREN): the difference across a
// load is the generator's CPU time.
double ChildCpuSeconds();

// The link speed of `interface` in Mbit/s from /sys/class/net/IF/speed;
// nullopt when the driver does not say (loopback, -1, unreadable).
std::optional<int64_t> LinkSpeedMbps(const FileSystem& files, const std::string& interface);

// Busy share of the generator's threads: cpu_seconds / (wall_seconds ×
// threads), 0..1 (clamped).
double GeneratorBusy(double cpu_seconds, double wall_seconds, uint32_t threads);

// Share of the link the busier direction used: max(rx, tx) bytes × 8 over
// wall_seconds against speed_mbps, 0..1 (clamped).
double LinkUtilization(uint64_t rx_bytes, uint64_t tx_bytes, double wall_seconds,
                       int64_t speed_mbps);

}  // namespace iommuvm::agent
