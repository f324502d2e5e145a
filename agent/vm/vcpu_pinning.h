#pragma once
// Pinning a guest's vCPUs to host CPUs (vms.<name>.pin): each vCPU thread
// (from QMP's query-cpus-fast) gets one host CPU, vCPU i the i-th CPU of
// the list, round robin. `auto` takes the CPUs of the data NIC's NUMA node
// (its traffic's memory and interrupts are there), else every online CPU.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/command_runner.h"
#include "common/file_system.h"

namespace iommuvm::agent {

// cpu-index -> host thread id, from a query-cpus-fast reply line.
absl::StatusOr<std::map<int, int>> ParseVcpuThreads(const std::string& reply);

// Pins each vCPU thread with taskset; returns "vcpu0=cpu2,vcpu1=cpu3".
absl::StatusOr<std::string> PinVcpus(CommandRunner* runner, const std::map<int, int>& threads,
                                     const std::vector<int>& cpus);

}  // namespace iommuvm::agent
