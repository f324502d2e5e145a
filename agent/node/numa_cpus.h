#pragma once
// Which CPUs a spec's CPU choice means on this node: a CPU list as written,
// "auto" (the CPUs of the data NIC's NUMA node, else every online CPU) or
// "auto:N" (the first N of those). Shared by vCPU pinning (vms.NAME.pin),
// server and generator cores, and the NIC's IRQ affinity.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/file_system.h"

namespace iommuvm::agent {

struct CpuChoice {
  std::vector<int> cpus;  // ascending
  std::string how;        // for the evidence: "auto: NUMA node 1 of eth1", "as listed"
};

absl::StatusOr<CpuChoice> ResolveCpus(const FileSystem& fs, const std::string& choice,
                                      const std::string& data_nic);

}  // namespace iommuvm::agent
