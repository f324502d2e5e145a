#pragma once
// `iommuvm-agent vm-check`: boots a guest with an emulated IOMMU the way a
// VM run would (KVM when a probe boot proves it usable, TCG otherwise) and
// reports the IOMMU mode the guest actually runs, judged from inside by the
// agent's own probe — before an experiment relies on that configuration.

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "iommuvm/v1/agent.pb.h"

namespace iommuvm::agent {

struct VmCheckOptions {
  v1::VmConfig vm;
  std::string accel = "auto";  // auto | kvm | tcg
  std::string run_dir;         // console.log and qemu.log are kept here
  int64_t timeout_s = 180;
  bool json = false;
  std::string capture_dir;  // --capture: the guest's sysroot is unpacked here
};

// The options from vm-check's arguments (argv excludes "vm-check");
// InvalidArgument names the flag and the accepted values.
absl::StatusOr<VmCheckOptions> ParseVmCheckArgs(const std::vector<std::string>& argv);

// Returns the process exit code: 0 when the guest runs the requested mode,
// 1 when it does not or could not boot, 2 usage.
int RunVmCheck(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err);

}  // namespace iommuvm::agent
