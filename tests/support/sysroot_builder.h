#pragma once
// Builds a node's /proc and /sys in a temporary directory the way the
// kernel presents them (real relative symlinks for bus/pci/devices,
// class/net, driver and iommu_group), for tests of the probe, inventory
// and boot configuration. Removed on destruction.

#include <string>
#include <vector>

namespace iommuvm::testing {

class SysrootBuilder {
 public:
  SysrootBuilder();
  ~SysrootBuilder();
  const std::string& root() const { return root_; }

  SysrootBuilder& Cmdline(const std::string& cmdline);
  // An IOMMU unit under /sys/class/iommu (dmar0, ivhd0).
  SysrootBuilder& Unit(const std::string& name);
  // A PCI device, bound to `driver` ("" unbound), in IOMMU group `group`
  // ("" none) whose type is `type`.
  SysrootBuilder& Device(const std::string& bdf, const std::string& driver,
                         const std::string& group, const std::string& type);
  // A network interface backed by PCI device `bdf` ("" virtual).
  SysrootBuilder& Nic(const std::string& name, const std::string& bdf);
  // An empty directory below the root.
  SysrootBuilder& Dir(const std::string& path);
  // Any file below the root.
  SysrootBuilder& File(const std::string& path, const std::string& content);
  // A symlink below the root (target relative, as sysfs has them).
  SysrootBuilder& Symlink(const std::string& path, const std::string& target);

 private:
  void Link(const std::string& path, const std::string& target);
  std::string root_;
};

}  // namespace iommuvm::testing
