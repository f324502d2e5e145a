#include "agent/node/vfio.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/node/sysfs.h"

namespace iommuvm::agent {
namespace {

std::string DeviceDir(const std::string& bdf) { return "/sys/bus/pci/devices/" + bdf; }

}  // namespace

Vfio::Vfio(FileSystem* sysroot, FileSystem* host, std::string state_dir, std::string control_bdf)
    : sysroot_(sysroot),
      host_(host),
      state_path_(state_dir + "/vfio_bindings"),
      control_bdf_(std::move(control_bdf)) {}

absl::Status Vfio::Refuse(const std::string& bdf) const {
  if (control_bdf_.empty()) return absl::OkStatus();
  if (bdf == control_bdf_) {
    return absl::FailedPreconditionError(absl::StrCat(
        bdf, " is this agent's control-network NIC; taking it away would cut the agent off"));
  }
  auto dev = FindPciDevice(*sysroot_, bdf);
  auto control = FindPciDevice(*sysroot_, control_bdf_);
  if (dev && control && !dev->iommu_group.empty() && dev->iommu_group == control->iommu_group) {
    return absl::FailedPreconditionError(absl::StrCat(
        bdf, " shares IOMMU group ", dev->iommu_group, " with the control-network NIC ",
        control_bdf_, "; VFIO would take the whole group"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Vfio::CreateVfs(const std::string& pf_bdf,
                                                         uint32_t count, bool autoprobe) {
  std::string dir = DeviceDir(pf_bdf);
  auto total_text = sysroot_->ReadFile(dir + "/sriov_totalvfs");
  uint32_t total = 0;
  if (!total_text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*total_text), &total) ||
      total == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(pf_bdf, " does not support SR-IOV (no sriov_totalvfs)"));
  }
  if (count > total) {
    return absl::InvalidArgumentError(
        absl::StrCat(pf_bdf, " offers at most ", total, " VFs, ", count, " requested"));
  }
  uint32_t now = 0;
  auto now_text = sysroot_->ReadFile(dir + "/sriov_numvfs");
  if (now_text.ok()) (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(*now_text), &now);
  if (now != count) {
    // The kernel refuses to change a non-zero VF count directly.
    if (now != 0) {
      absl::Status s = sysroot_->WriteFile(dir + "/sriov_numvfs", "0");
      if (!s.ok()) return s;
    }
    absl::Status s = sysroot_->WriteFile(dir + "/sriov_drivers_autoprobe", autoprobe ? "1" : "0");
    if (!s.ok()) return s;
    if (count > 0) {
      s = sysroot_->WriteFile(dir + "/sriov_numvfs", absl::StrCat(count));
      if (!s.ok()) return s;
    }
  }
  std::vector<std::string> vfs;
  for (uint32_t i = 0; i < count; ++i) {
    auto link = SysfsLink(*sysroot_, absl::StrCat(dir, "/virtfn", i));
    if (!link) {
      return absl::InternalError(absl::StrCat("wrote ", count, " to ", pf_bdf,
                                              "/sriov_numvfs but virtfn", i, " does not exist"));
    }
    vfs.push_back(Basename(*link));
  }
  return vfs;
}

absl::StatusOr<VfioBinding> Vfio::BindToVfio(const std::string& bdf) {
  absl::Status refused = Refuse(bdf);
  if (!refused.ok()) return refused;
  auto dev = FindPciDevice(*sysroot_, bdf);
  if (!dev) return absl::NotFoundError(absl::StrCat("no PCI device ", bdf));
  if (!sysroot_->Exists("/sys/bus/pci/drivers/vfio-pci")) {
    return absl::FailedPreconditionError("vfio-pci is not loaded; run 'modprobe vfio-pci'");
  }
  VfioBinding b{bdf, dev->driver == "vfio-pci" ? "" : dev->driver};
  // Recorded first: a crash from here on is undone at the next start.
  std::vector<VfioBinding> all = Recorded();
  all.push_back(b);
  absl::Status s = Record(all);
  if (!s.ok()) return s;
  s = sysroot_->WriteFile(DeviceDir(bdf) + "/driver_override", "vfio-pci");
  if (s.ok() && !b.original_driver.empty()) {
    s = sysroot_->WriteFile("/sys/bus/pci/drivers/" + b.original_driver + "/unbind", bdf);
  }
  if (s.ok()) s = sysroot_->WriteFile("/sys/bus/pci/drivers_probe", bdf);
  if (!s.ok()) {
    (void)Restore(b);
    return absl::InternalError(absl::StrCat("cannot bind ", bdf, " to vfio-pci: ", s.message()));
  }
  return b;
}

absl::Status Vfio::Restore(const VfioBinding& b) {
  // Clear the override first so the probe below picks the native driver.
  absl::Status first = sysroot_->WriteFile(DeviceDir(b.bdf) + "/driver_override", "\n");
  auto dev = FindPciDevice(*sysroot_, b.bdf);
  if (dev && dev->driver == "vfio-pci") {
    absl::Status s = sysroot_->WriteFile("/sys/bus/pci/drivers/vfio-pci/unbind", b.bdf);
    if (first.ok()) first = s;
  }
  if (!b.original_driver.empty()) {
    absl::Status s = sysroot_->WriteFile("/sys/bus/pci/drivers_probe", b.bdf);
    if (first.ok()) first = s;
  }
  std::vector<VfioBinding> all = Recorded();
  std::erase_if(all, [&](const VfioBinding& r) { return r.bdf == b.bdf; });
  absl::Status s = Record(all);
  if (first.ok()) first = s;
  return first;
}

std::vector<VfioBinding> Vfio::RestoreLeftovers() {
  std::vector<VfioBinding> left = Recorded();
  for (const VfioBinding& b : left) (void)Restore(b);
  return left;
}

std::vector<VfioBinding> Vfio::Recorded() const {
  std::vector<VfioBinding> out;
  auto text = host_->ReadFile(state_path_);
  if (!text.ok()) return out;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    out.push_back({parts[0], parts.size() > 1 ? parts[1] : ""});
  }
  return out;
}

absl::Status Vfio::Record(const std::vector<VfioBinding>& bindings) {
  std::string text;
  for (const auto& b : bindings) absl::StrAppend(&text, b.bdf, " ", b.original_driver, "\n");
  return host_->WriteFile(state_path_, text);
}

}  // namespace iommuvm::agent
