#pragma once
// A testbed node that is a QEMU guest: Debian's kernel on q35 with an
// emulated VT-d or AMD-Vi, the guest image's agent registered with the controller as
// a server node of its own (no host agent involved), its data NIC on a tap
// in the topology's server namespace (the guests' bridge), and its disk a
// host directory shared over 9p: /boot holds the kernels and initrds it
// can kexec into, and the agent's state survives each kexec as it would on
// a real node's disk. Stopped (QEMU killed, tap removed) on destruction.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/command_runner.h"
#include "tests/support/topology.h"

namespace iommuvm::testing {

struct QemuNodeConfig {
  std::string id;                  // the agent id it registers as
  std::string controller_address;  // host:port as the host reaches it
  std::string dir;                 // its share (boot/, state/) and console
  // Kernels installed in its /boot: (release, image path on this host);
  // the first boots first. Each gets the guest image's initrd.
  std::vector<std::pair<std::string, std::string>> kernels;
  std::string initrd;
  // Releases that boot another initrd than `initrd` (e.g. one that cannot
  // boot): release -> its initrd on this host.
  std::map<std::string, std::string> initrd_of;
  std::string cmdline = "intel_iommu=on iommu.strict=1";  // the first boot's IOMMU tokens
  // The emulated IOMMU: intel (VT-d, with an Intel CPU) or amd (AMD-Vi,
  // with an AMD CPU): the CPU vendor decides the tokens the controller writes.
  std::string viommu = "intel";
};

class QemuNode {
 public:
  QemuNode(const Topology& net, QemuNodeConfig config);
  ~QemuNode();
  absl::Status Start();
  std::string ConsolePath() const { return config_.dir + "/console.log"; }
  std::string Console() const;  // the serial console so far
  bool Running() { return qemu_ != nullptr && qemu_->Running(); }

 private:
  const Topology& net_;
  QemuNodeConfig config_;
  std::string tap_;
  LocalCommandRunner runner_;
  std::unique_ptr<Process> qemu_;
};

}  // namespace iommuvm::testing
