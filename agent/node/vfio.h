#pragma once
// SR-IOV and VFIO through sysfs: create virtual functions on a NIC, hand a
// device to vfio-pci (for passing it to a guest), and give it back to its
// original driver afterwards — also after a failed run or an agent crash:
// every binding is recorded in the state directory until it is restored,
// and RestoreLeftovers() on start undoes what a crash left behind.
//
// Never touches the agent's own control-network NIC, nor a device sharing
// an IOMMU group with it (VFIO takes whole groups).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/command_runner.h"
#include "common/file_system.h"

namespace iommuvm::agent {

struct VfioBinding {
  std::string bdf;
  std::string original_driver;  // "" when it had none
};

// A VF handed to a guest (AssignVf), and what giving it back undoes.
struct AssignedVf {
  std::string pf;      // the physical function's interface ("" when the spec named the VF)
  std::string pf_bdf;  // "" likewise
  int index = -1;      // its virtfn number under the PF
  std::string bdf;
  std::string iommu_group;
  bool created = false;  // iommuvm enabled the PF's VFs (and disables them on release)
  VfioBinding binding;
};

class Vfio {
 public:
  // `sysroot` holds /sys; `host` the state directory. `control_bdf` is the
  // PCI device of the control-network NIC ("" when unknown).
  Vfio(FileSystem* sysroot, FileSystem* host, std::string state_dir, std::string control_bdf);

  // Enables `count` VFs on physical function `pf_bdf` (0 disables them).
  // With autoprobe false the host driver does not claim the new VFs, so
  // they can go straight to vfio-pci. Returns the VFs' PCI addresses.
  absl::StatusOr<std::vector<std::string>> CreateVfs(const std::string& pf_bdf, uint32_t count,
                                                     bool autoprobe);
  // driver_override = vfio-pci, unbind from the current driver,
  // drivers_probe; recorded until Restore.
  absl::StatusOr<VfioBinding> BindToVfio(const std::string& bdf);
  // Clears driver_override, unbinds from vfio-pci and probes again, so the
  // original driver takes the device back.
  absl::Status Restore(const VfioBinding& binding);
  // Restores every binding still recorded (after a crash); returns them.
  std::vector<VfioBinding> RestoreLeftovers();

  // A VF of the NIC `pf_netdev` for a guest: the PF's VFs enabled when it
  // has none (without autoprobe, recorded so a crash cannot leave them),
  // the first VF not already on vfio-pci taken, given `mac` through the PF
  // (the guest finds its data NIC by it), its IOMMU group checked to hold
  // nothing else (VFIO takes whole groups), and bound to vfio-pci.
  // `data_nic` "" is the node's only PCI NIC.
  absl::StatusOr<AssignedVf> AssignVf(const std::string& data_nic, const std::string& mac,
                                      CommandRunner* runner);
  // The VF `bdf` a spec names (vf_bdf): the group check and the binding.
  absl::StatusOr<AssignedVf> AssignGivenVf(const std::string& bdf);
  // Back to its driver; the PF's VFs disabled again if iommuvm enabled them.
  absl::Status ReleaseVf(const AssignedVf& vf);
  // Disables the VFs an earlier life of the agent enabled (after a crash;
  // after RestoreLeftovers); returns the PFs.
  std::vector<std::string> DisableLeftoverVfs();

 private:
  absl::Status Refuse(const std::string& bdf) const;
  std::vector<VfioBinding> Recorded() const;
  absl::Status Record(const std::vector<VfioBinding>& bindings);

  FileSystem* sysroot_;
  FileSystem* host_;
  // The group of `bdf` when it holds `bdf` alone; else why not.
  absl::StatusOr<std::string> LoneGroup(const std::string& bdf) const;
  std::vector<std::string> CreatedPfs() const;
  absl::Status RecordCreated(const std::vector<std::string>& pfs);

  std::string state_path_;
  std::string created_path_;
  std::string control_bdf_;
};

}  // namespace iommuvm::agent
