#pragma once
// Which IOMMU mode a node actually runs, from three sources (design:
// "Verification"): the command line's tokens (what was asked), the kernel
// log (how the IOMMU was set up), and the type of every IOMMU group — the
// authority, above all the group of the data-plane NIC. The trap it exists
// for: an emulated VT-d with caching mode logs "lazy mode" yet runs strict
// ("IOMMU batching disallowed due to virtualization").

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "agent/node/kernel_log.h"
#include "agent/node/sysfs.h"
#include "common/file_system.h"
#include "iommuvm/v1/common.pb.h"

namespace iommuvm::agent {

struct IommuProbe {
  std::string cmdline;
  std::string kernel_release;  // /proc/sys/kernel/osrelease ("" unreadable)
  // From the command line; UNSPECIFIED: the kernel's built-in default.
  v1::IommuMode requested = v1::IOMMU_MODE_UNSPECIFIED;
  // off, passthrough, lazy, strict, mixed (groups disagree) or unknown.
  std::string detected;
  std::vector<std::string> iommu_units;
  std::vector<IommuGroup> groups;
  // The mode each group's type means, parallel to `groups` ("" if unknown).
  std::vector<std::string> group_modes;
  KernelLogFacts kernel_log;
  bool kernel_log_read = false;
  // The data-plane NIC and its group, when known.
  NetInterface data_nic;
  std::string data_group;
  std::string data_group_type;
  std::string data_mode;  // the mode its group runs: the attempt's authority
  std::vector<std::string> evidence;
  std::vector<std::string> warnings;
};

// `kernel_log` is the log text (empty with log_available false when it
// could not be read). `data_nic` names the data-plane NIC by interface name
// or PCI address; "" picks the only PCI NIC, if there is exactly one.
IommuProbe ProbeIommu(const FileSystem& fs, absl::string_view kernel_log, bool log_available,
                      const std::string& data_nic);

// "" when the probe shows `wanted`; otherwise why not, naming the group,
// e.g. "requested strict, but group 14 (0000:ca:00.0, mlx5_core) has type
// DMA-FQ". Judged on the data-plane NIC's group when known, else on all
// groups.
std::string CheckMode(const IommuProbe& probe, v1::IommuMode wanted);

// "off", "passthrough", "lazy", "strict" or "kernel default" (UNSPECIFIED).
std::string ModeName(v1::IommuMode mode);

}  // namespace iommuvm::agent
