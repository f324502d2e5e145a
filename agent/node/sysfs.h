#pragma once
// Reading the PCI/IOMMU/network picture of a node from sysfs through the
// sysroot FileSystem: IOMMU units, IOMMU groups with their type and
// devices, PCI devices with driver and group, and network interfaces with
// the PCI device behind them. Missing files give empty fields, never
// errors: a node with the IOMMU off simply has no groups.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/file_system.h"

namespace iommuvm::agent {

struct IommuGroup {
  std::string id;                 // "14"
  std::string type;               // DMA, DMA-FQ, identity, blocked, unmanaged, ...
  std::vector<std::string> devices;  // BDFs
};

struct PciDevice {
  std::string bdf;     // 0000:ca:00.0
  std::string vendor;  // 0x15b3
  std::string device;  // 0x101d
  std::string pci_class;  // 0x020000
  std::string driver;  // mlx5_core ("" when unbound)
  std::string iommu_group;  // "" when none
  int numa_node = -1;
  // SR-IOV: total VFs the device offers (0: none) and VFs enabled now.
  uint32_t sriov_totalvfs = 0;
  uint32_t sriov_numvfs = 0;
};

struct NetInterface {
  std::string name;  // eth0
  std::string bdf;   // "" for virtual interfaces (lo, veth, bridges)
  std::string driver;
  std::string mac;
  int64_t speed_mbps = -1;  // -1 when unknown (link down, virtio)
};

// Target of a sysfs symlink. Copies of sysfs made with tools that do not
// keep links store each link as a small file holding its target; both
// forms are accepted.
std::optional<std::string> SysfsLink(const FileSystem& fs, const std::string& path);
// Last component of a path ("../../kernel/iommu_groups/14" -> "14").
std::string Basename(const std::string& path);

// Names under /sys/class/iommu (dmar0, ivhd0, ...), sorted.
std::vector<std::string> IommuUnits(const FileSystem& fs);
// Every group under /sys/kernel/iommu_groups, by numeric id.
std::vector<IommuGroup> IommuGroups(const FileSystem& fs);
// Every PCI device under /sys/bus/pci/devices.
std::vector<PciDevice> PciDevices(const FileSystem& fs);
std::optional<PciDevice> FindPciDevice(const FileSystem& fs, const std::string& bdf);
// Every interface under /sys/class/net, sorted by name.
std::vector<NetInterface> NetInterfaces(const FileSystem& fs);
// The data-plane NIC: the interface named `wanted` (name or PCI address),
// or with "" the only interface backed by a PCI device. `pci` (optional)
// receives every PCI-backed interface, so callers can say why none fits.
std::optional<NetInterface> DataPlaneNic(const FileSystem& fs, const std::string& wanted,
                                         std::vector<NetInterface>* pci = nullptr);

}  // namespace iommuvm::agent
