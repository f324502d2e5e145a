#include "tests/support/sysroot_builder.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace iommuvm::testing {

namespace fs = std::filesystem;

SysrootBuilder::SysrootBuilder() {
  std::string tmpl = (fs::temp_directory_path() / "sysroot_XXXXXX").string();
  root_ = ::mkdtemp(tmpl.data());
}

SysrootBuilder::~SysrootBuilder() {
  std::error_code ec;
  fs::remove_all(root_, ec);
}

SysrootBuilder& SysrootBuilder::Dir(const std::string& path) {
  fs::create_directories(root_ + path);
  return *this;
}

SysrootBuilder& SysrootBuilder::File(const std::string& path, const std::string& content) {
  fs::path p = root_ + path;
  fs::create_directories(p.parent_path());
  std::ofstream(p) << content;
  return *this;
}

void SysrootBuilder::Link(const std::string& path, const std::string& target) {
  fs::path p = root_ + path;
  fs::create_directories(p.parent_path());
  std::error_code ec;
  fs::remove(p, ec);
  fs::create_symlink(target, p);
}

SysrootBuilder& SysrootBuilder::Symlink(const std::string& path, const std::string& target) {
  Link(path, target);
  return *this;
}

SysrootBuilder& SysrootBuilder::Cmdline(const std::string& cmdline) {
  return File("/proc/cmdline", cmdline + "\n");
}

SysrootBuilder& SysrootBuilder::Unit(const std::string& name) {
  File("/sys/devices/virtual/iommu/" + name + "/uevent", "");
  Link("/sys/class/iommu/" + name, "../../devices/virtual/iommu/" + name);
  return *this;
}

SysrootBuilder& SysrootBuilder::Device(const std::string& bdf, const std::string& driver,
                                       const std::string& group, const std::string& type) {
  std::string dir = "/sys/devices/pci0000:00/" + bdf;
  File(dir + "/vendor", "0x15b3\n");
  File(dir + "/device", "0x101d\n");
  File(dir + "/class", "0x020000\n");
  File(dir + "/numa_node", "0\n");
  Link("/sys/bus/pci/devices/" + bdf, "../../../devices/pci0000:00/" + bdf);
  if (!driver.empty()) {
    File("/sys/bus/pci/drivers/" + driver + "/bind", "");
    Link(dir + "/driver", "../../../bus/pci/drivers/" + driver);
  }
  if (!group.empty()) {
    std::string gdir = "/sys/kernel/iommu_groups/" + group;
    File(gdir + "/type", type + "\n");
    Link(gdir + "/devices/" + bdf, "../../../../devices/pci0000:00/" + bdf);
    Link(dir + "/iommu_group", "../../../kernel/iommu_groups/" + group);
  }
  return *this;
}

SysrootBuilder& SysrootBuilder::Nic(const std::string& name, const std::string& bdf) {
  if (bdf.empty()) {
    File("/sys/devices/virtual/net/" + name + "/address", "00:00:00:00:00:00\n");
    Link("/sys/class/net/" + name, "../../devices/virtual/net/" + name);
  } else {
    File("/sys/devices/pci0000:00/" + bdf + "/net/" + name + "/address", "0c:42:a1:00:00:01\n");
    File("/sys/devices/pci0000:00/" + bdf + "/net/" + name + "/speed", "100000\n");
    Link("/sys/class/net/" + name, "../../devices/pci0000:00/" + bdf + "/net/" + name);
    Link("/sys/devices/pci0000:00/" + bdf + "/net/" + name + "/device", "../../../" + bdf);
  }
  return *this;
}

}  // namespace iommuvm::testing
