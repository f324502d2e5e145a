#pragma once
// What the node tests share: boot targets, a file or "<missing>", and a
// node with four IOMMU groups and a ConnectX NIC in group 14.

#include <string>

#include "agent/node/boot_configurator.h"
#include "common/file_system.h"
#include "iommuvm/v1/common.pb.h"
#include "tests/support/sysroot_builder.h"

namespace iommuvm::agent {

using ::iommuvm::testing::SysrootBuilder;

inline BootTarget Target(v1::IommuMode mode, std::string tokens, std::string extra = "") {
  BootTarget t;
  t.mode = mode;
  t.tokens = std::move(tokens);
  t.extra_cmdline = std::move(extra);
  return t;
}

inline std::string Read(const FileSystem& fs, const std::string& path) {
  auto s = fs.ReadFile(path);
  return s.ok() ? *s : "<missing>";
}

inline constexpr char kIntelLog[] =
    "[    0.135117] DMAR: IOMMU enabled\n"
    "[    1.401073] iommu: Default domain type: Translated \n"
    "[    1.401073] iommu: DMA domain TLB invalidation policy: strict mode (set via kernel "
    "command line)\n";

// A node with four groups of `type` and a ConnectX NIC in group 14.
inline void Node(SysrootBuilder& b, const std::string& cmdline, const std::string& unit,
                 const std::string& type) {
  b.Cmdline(cmdline).Unit(unit).File("/proc/sys/kernel/osrelease", "6.1.0-26-amd64\n");
  b.Device("0000:00:00.0", "", "0", type).Device("0000:00:14.0", "xhci_hcd", "3", type);
  b.Device("0000:ca:00.0", "mlx5_core", "14", type).Device("0000:ca:00.1", "mlx5_core", "15", type);
  b.Nic("enp202s0f0np0", "0000:ca:00.0").Nic("lo", "");
}
}  // namespace iommuvm::agent
