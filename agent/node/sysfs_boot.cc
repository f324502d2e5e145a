#include "agent/node/sysfs_boot.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/node/inventory.h"
#include "agent/node/nic_addresses.h"
#include "agent/node/sysfs.h"

namespace iommuvm::agent {
namespace {

// (major, minor) of "6.1.0-26-amd64"; (0, 0) when unreadable.
std::pair<int, int> KernelVersion(const FileSystem& fs) {
  std::vector<std::string> parts = absl::StrSplit(KernelRelease(fs), '.');
  int major = 0, minor = 0;
  if (parts.size() < 2 || !absl::SimpleAtoi(parts[0], &major)) return {0, 0};
  std::string digits;
  for (char c : parts[1]) {
    if (!absl::ascii_isdigit(c)) break;
    digits += c;
  }
  absl::SimpleAtoi(digits, &minor);
  return {major, minor};
}

class SysfsBoot final : public BootConfigurator {
 public:
  SysfsBoot(FileSystem* fs, CommandRunner* runner) : fs_(fs), runner_(runner) {}
  std::string method() const override { return "sysfs"; }

  absl::Status CanReach(const BootTarget& target) override {
    if (ChangesKernel(*fs_, target)) {
      return absl::FailedPreconditionError(
          absl::StrCat("sysfs: cannot boot kernel ", target.kernel.release,
                       " in place (the node runs ", KernelRelease(*fs_), ")"));
    }
    if (target.mode == v1::IOMMU_MODE_OFF) {
      return absl::FailedPreconditionError(
          "sysfs: cannot turn the IOMMU off in place; that needs a reboot (kexec or grub)");
    }
    std::string type = GroupTypeFor(target.mode);
    if (type.empty()) return absl::InvalidArgumentError("sysfs: no group type for this mode");
    auto [major, minor] = KernelVersion(*fs_);
    std::pair<int, int> need = type == "DMA-FQ" ? std::pair{5, 15} : std::pair{5, 11};
    if (std::pair{major, minor} < need) {
      return absl::FailedPreconditionError(absl::StrCat(
          "sysfs: kernel ", major, ".", minor, " cannot set group type ", type, " (needs ",
          need.first, ".", need.second, ")"));
    }
    auto group = DataGroup(target);
    if (!group.ok()) return group.status();
    if (!runner_->Which("ip").ok()) {
      return absl::FailedPreconditionError(
          "sysfs: ip (iproute2) is not installed: the data NIC's addresses would not come back "
          "after the rebind");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<SwitchOutcome> Apply(const BootTarget& target) override {
    auto group = DataGroup(target);
    if (!group.ok()) return group.status();
    std::string type = GroupTypeFor(target.mode);
    std::string type_path = "/sys/kernel/iommu_groups/" + group->id + "/type";
    // The group's network interfaces lose their addresses, MTU and routes
    // with their driver: keep them to put back.
    std::vector<NicAddresses> nics;
    for (const NetInterface& n : NetInterfaces(*fs_)) {
      if (std::find(group->devices.begin(), group->devices.end(), n.bdf) == group->devices.end()) {
        continue;
      }
      auto snapshot = SnapshotNic(runner_, n.name);
      if (!snapshot.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat("sysfs: cannot read ", n.name,
                         "'s addresses before unbinding it: ", snapshot.status().message()));
      }
      nics.push_back(std::move(*snapshot));
    }
    // Unbind everything in the group, remembering each device's driver.
    std::vector<std::pair<std::string, std::string>> bound;  // bdf, driver
    for (const std::string& bdf : group->devices) {
      auto dev = FindPciDevice(*fs_, bdf);
      if (!dev || dev->driver.empty()) continue;
      absl::Status s = fs_->WriteFile("/sys/bus/pci/drivers/" + dev->driver + "/unbind", bdf);
      if (!s.ok()) {
        (void)Rebind(bound);  // best effort; the unbind error is the news
        return absl::InternalError(absl::StrCat("sysfs: cannot unbind ", bdf, " from ",
                                                dev->driver, ": ", s.message()));
      }
      bound.emplace_back(bdf, dev->driver);
    }
    absl::Status written = fs_->WriteFile(type_path, type);
    absl::Status rebound = Rebind(bound);
    if (!written.ok()) {
      return absl::InternalError(absl::StrCat("sysfs: cannot set group ", group->id, " to ",
                                              type, ": ", written.message()));
    }
    if (!rebound.ok()) return rebound;
    for (const NicAddresses& nic : nics) {
      absl::Status restored = RestoreNic(runner_, *fs_, nic, absl::Seconds(10));
      if (!restored.ok()) return restored;
    }
    auto now = fs_->ReadFile(type_path);
    std::string got = now.ok() ? std::string(absl::StripAsciiWhitespace(*now)) : "unreadable";
    if (got != type) {
      return absl::InternalError(absl::StrCat("sysfs: wrote ", type, " to group ", group->id,
                                              " but it reads back as ", got));
    }
    return SwitchOutcome::kSwitchedInPlace;
  }

  absl::Status Reboot() override {
    return absl::FailedPreconditionError("sysfs switches in place; there is nothing to reboot");
  }

 private:
  // The data-plane NIC's group (named, or the only PCI NIC's).
  absl::StatusOr<IommuGroup> DataGroup(const BootTarget& target) const {
    std::optional<NetInterface> nic = DataPlaneNic(*fs_, target.data_nic);
    std::string bdf = nic ? nic->bdf : "";
    if (bdf.empty()) {
      return absl::FailedPreconditionError(
          target.data_nic.empty()
              ? "sysfs: cannot tell the data-plane NIC; start the agent with --data_nic"
              : absl::StrCat("sysfs: no PCI NIC '", target.data_nic, "'"));
    }
    for (IommuGroup& g : IommuGroups(*fs_)) {
      for (const std::string& d : g.devices) {
        if (d == bdf) return g;
      }
    }
    return absl::FailedPreconditionError(
        absl::StrCat("sysfs: ", bdf, " is in no IOMMU group (is the IOMMU on?)"));
  }

  absl::Status Rebind(const std::vector<std::pair<std::string, std::string>>& bound) {
    absl::Status first;
    for (const auto& [bdf, driver] : bound) {
      absl::Status s = fs_->WriteFile("/sys/bus/pci/drivers/" + driver + "/bind", bdf);
      if (!s.ok() && first.ok()) {
        first = absl::InternalError(
            absl::StrCat("sysfs: cannot bind ", bdf, " back to ", driver, ": ", s.message()));
      }
    }
    return first;
  }

  FileSystem* fs_;
  CommandRunner* runner_;
};

}  // namespace

std::string GroupTypeFor(v1::IommuMode mode) {
  switch (mode) {
    case v1::IOMMU_MODE_PASSTHROUGH: return "identity";
    case v1::IOMMU_MODE_LAZY: return "DMA-FQ";
    case v1::IOMMU_MODE_STRICT: return "DMA";
    default: return "";
  }
}

std::unique_ptr<BootConfigurator> MakeSysfsBoot(FileSystem* fs, CommandRunner* runner) {
  return std::make_unique<SysfsBoot>(fs, runner);
}

}  // namespace iommuvm::agent
