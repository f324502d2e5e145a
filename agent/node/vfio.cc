#include "agent/node/vfio.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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
      created_path_(state_dir + "/vfio_created_vfs"),
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

absl::StatusOr<std::string> Vfio::LoneGroup(const std::string& bdf) const {
  auto dev = FindPciDevice(*sysroot_, bdf);
  if (!dev) {
    return absl::NotFoundError(absl::StrCat("no PCI device ", bdf,
                                            " (vf_bdf, or the VF iommuvm "
                                            "chose, is not in /sys/bus/pci/devices)"));
  }
  if (dev->iommu_group.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(bdf, " is in no IOMMU group: the host IOMMU is off, and VFIO needs it on"));
  }
  for (const IommuGroup& g : IommuGroups(*sysroot_)) {
    if (g.id != dev->iommu_group) continue;
    std::vector<std::string> others;
    for (const std::string& d : g.devices) {
      if (d != bdf) others.push_back(d);
    }
    if (!others.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          bdf, " shares IOMMU group ", g.id, " with ", absl::StrJoin(others, ", "),
          "; VFIO would take them all (is ACS missing on its path? a VF normally has a group "
          "of its own)"));
    }
  }
  return dev->iommu_group;
}

absl::StatusOr<AssignedVf> Vfio::AssignGivenVf(const std::string& bdf) {
  AssignedVf vf;
  vf.bdf = bdf;
  auto group = LoneGroup(bdf);
  if (!group.ok()) return group.status();
  vf.iommu_group = *group;
  auto bound = BindToVfio(bdf);
  if (!bound.ok()) return bound.status();
  vf.binding = *bound;
  return vf;
}

absl::StatusOr<AssignedVf> Vfio::AssignVf(const std::string& data_nic, const std::string& mac,
                                          CommandRunner* runner) {
  AssignedVf vf;
  // "" is the node's only PCI NIC, as for the probe (--data_nic).
  std::string pf_netdev = data_nic;
  if (pf_netdev.empty()) {
    if (auto nic = DataPlaneNic(*sysroot_, "")) pf_netdev = nic->name;
  }
  if (pf_netdev.empty()) {
    return absl::FailedPreconditionError(
        "no data NIC to take a VF of: the node has several PCI NICs; name one with the agent's "
        "--data_nic (or give vms.<name>.vf_bdf)");
  }
  vf.pf = pf_netdev;
  for (const NetInterface& n : NetInterfaces(*sysroot_)) {
    if (n.name == pf_netdev) vf.pf_bdf = n.bdf;
  }
  if (vf.pf_bdf.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the data NIC '", pf_netdev, "' is not a PCI device here, so it has no VFs to assign"));
  }
  auto pf = FindPciDevice(*sysroot_, vf.pf_bdf);
  if (!pf || pf->sriov_totalvfs == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the data NIC ", pf_netdev, " (", vf.pf_bdf,
        ") offers no SR-IOV VFs (sriov_totalvfs is 0 or missing; enable SR-IOV in its firmware)"));
  }
  std::vector<std::string> vfs;
  if (pf->sriov_numvfs == 0) {
    // Recorded first: a crash from here on is undone at the next start.
    std::vector<std::string> created = CreatedPfs();
    created.push_back(vf.pf_bdf);
    if (absl::Status s = RecordCreated(created); !s.ok()) return s;
    auto made = CreateVfs(vf.pf_bdf, 1, /*autoprobe=*/false);
    if (!made.ok()) {
      std::erase(created, vf.pf_bdf);
      (void)RecordCreated(created);
      return made.status();
    }
    vf.created = true;
    vfs = *made;
  } else {
    for (uint32_t i = 0; i < pf->sriov_numvfs; ++i) {
      auto v = SysfsLink(*sysroot_, absl::StrCat("/sys/bus/pci/devices/", vf.pf_bdf, "/virtfn", i));
      vfs.push_back(v ? Basename(*v) : "");
    }
  }
  for (size_t i = 0; i < vfs.size(); ++i) {
    auto dev = vfs[i].empty() ? std::nullopt : FindPciDevice(*sysroot_, vfs[i]);
    if (dev && dev->driver != "vfio-pci") {
      vf.index = static_cast<int>(i);
      vf.bdf = vfs[i];
      break;
    }
  }
  auto fail = [&](absl::Status why) {
    if (vf.created) (void)ReleaseVf(vf);
    return why;
  };
  if (vf.index < 0) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("every VF of ", pf_netdev, " (", vfs.size(), ") is already on vfio-pci")));
  }
  auto group = LoneGroup(vf.bdf);
  if (!group.ok()) return fail(group.status());
  vf.iommu_group = *group;
  // The VF's MAC is set through its PF (the PF driver's eswitch).
  CommandSpec spec;
  spec.argv = {"ip", "link", "set", pf_netdev, "vf", absl::StrCat(vf.index), "mac", mac};
  spec.timeout = absl::Seconds(10);
  auto set = runner->Run(spec);
  if (!set.ok() || !set->ok()) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("cannot give VF ", vf.index, " of ", pf_netdev, " the MAC ", mac, ": ",
                     set.ok() ? set->Describe("ip") : std::string(set.status().message()))));
  }
  auto bound = BindToVfio(vf.bdf);
  if (!bound.ok()) return fail(bound.status());
  vf.binding = *bound;
  return vf;
}

absl::Status Vfio::ReleaseVf(const AssignedVf& vf) {
  absl::Status first = absl::OkStatus();
  if (!vf.binding.bdf.empty()) first = Restore(vf.binding);
  if (vf.created) {
    absl::Status s = sysroot_->WriteFile(DeviceDir(vf.pf_bdf) + "/sriov_numvfs", "0");
    if (first.ok()) first = s;
    std::vector<std::string> created = CreatedPfs();
    std::erase(created, vf.pf_bdf);
    s = RecordCreated(created);
    if (first.ok()) first = s;
  }
  return first;
}

std::vector<std::string> Vfio::DisableLeftoverVfs() {
  std::vector<std::string> left = CreatedPfs();
  for (const std::string& pf : left) {
    (void)sysroot_->WriteFile(DeviceDir(pf) + "/sriov_numvfs", "0");
  }
  if (!left.empty()) (void)RecordCreated({});
  return left;
}

std::vector<std::string> Vfio::CreatedPfs() const {
  auto text = host_->ReadFile(created_path_);
  if (!text.ok()) return {};
  return absl::StrSplit(*text, '\n', absl::SkipEmpty());
}

absl::Status Vfio::RecordCreated(const std::vector<std::string>& pfs) {
  std::string text;
  for (const auto& pf : pfs) absl::StrAppend(&text, pf, "\n");
  return host_->WriteFile(created_path_, text);
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
