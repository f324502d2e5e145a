#pragma once
// Which accelerator guests get: KVM when /dev/kvm opens read-write and a
// short probe boot under KVM reaches the guest's init, TCG otherwise —
// /dev/kvm can open and still be unusable (a nested KVM without VT-x/SVM
// aborts on `-cpu host` or hangs in early boot), so only a boot proves it.

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/command_runner.h"
#include "common/file_system.h"
#include "iommuvm/v1/agent.pb.h"

namespace iommuvm::agent {

struct Accelerator {
  std::string name;    // kvm | tcg
  std::string reason;  // why (shown to the user and kept as evidence)
};

// `probe_boot` boots a guest under KVM and returns OK when it reached init.
Accelerator ChooseAccelerator(const std::string& kvm_device,
                              const std::function<absl::Status()>& probe_boot);

// Boots `guest` (its kernel and initrd; no vIOMMU, no NIC needed) under KVM
// in `run_dir` and waits up to `timeout` for its init.
absl::Status ProbeKvmBoot(CommandRunner* runner, FileSystem* files, const Clock* clock,
                          const v1::VmConfig& guest, const std::string& run_dir,
                          absl::Duration timeout);

}  // namespace iommuvm::agent
