#pragma once
// /proc/interrupts and /proc/softirqs share a shape: a header naming the
// online CPUs ("CPU0 CPU1 CPU3" — offline ones are missing), then one row
// per source with a count per CPU and, for interrupts, a description
// (controller, hw irq, device or queue name). Counts are 32-bit and wrap.
// Deltas are taken per CPU over the CPUs present in both readings, so a
// CPU going offline or coming back (hotplug) does not produce a jump.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace iommuvm::agent {

struct PerCpuTable {
  struct Row {
    std::string description;           // interrupts: "PCI-MSIX-0000:ca:00.0 3-edge mlx5_comp3@pci:0000:ca:00.0"
    std::map<int, uint64_t> per_cpu;   // CPU id -> count
  };
  std::map<std::string, Row> rows;  // "24", "NMI", "NET_RX" ...
};

absl::StatusOr<PerCpuTable> ParsePerCpuTable(const std::string& text);

// Events between two readings of one row, summed over the CPUs in both,
// with 32-bit wrap-around per CPU.
uint64_t RowDelta(const PerCpuTable::Row& before, const PerCpuTable::Row& after);

}  // namespace iommuvm::agent
