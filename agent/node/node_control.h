#pragma once
// The agent's side of the reboot cycle and of verification: probes the
// node for evidence, switches its IOMMU mode through the chosen boot
// configurator, and remembers a switch across the reboot.
//
// Before rebooting, the switch step, the expected mode, the method and the
// current boot id are written to <state_dir>/pending_boot. After the boot
// the agent (started again by systemd, or re-exec'ed on a simulated node)
// finds that record and reports the switch step SUCCEEDED with the new
// boot's evidence; the controller checks the boot id changed and the mode.

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "agent/node/boot_configurator.h"
#include "common/command_runner.h"
#include "common/file_system.h"
#include "iommuvm/v1/agent.pb.h"

namespace iommuvm::agent {

using Evidence = std::map<std::string, std::string>;

struct NodeControlConfig {
  std::string state_dir;
  std::string data_nic;  // "" = the only PCI NIC
  BootMethodsConfig boot;
  // Kernel parameters (or whole tokens) this node writes beyond the IOMMU's
  // and the benchmark set (iommu::CheckCmdlineForNode); --allow_cmdline.
  std::vector<std::string> allow_cmdline;
};

class NodeControl {
 public:
  // `sysroot` holds /proc, /sys (and dmesg.txt on captured or simulated
  // nodes); `host` holds the state directory.
  NodeControl(FileSystem* sysroot, FileSystem* host, CommandRunner* runner,
              NodeControlConfig config);

  // The probe: the facts the controller decides on (`report`, whose
  // `mismatch` says why the node is not in `expected`; "" when it is or when
  // `expected` is CURRENT) and the evidence behind them: cmdline,
  // kernel_log, warnings and groups.
  struct Probed {
    v1::ProbeReport report;
    Evidence evidence;
  };
  // With `expected_release` (the kernel axis), a node in another kernel
  // is a mismatch too.
  Probed Probe(v1::IommuMode expected, const std::string& expected_release = "");

  // The kernel axis's `stock`: the release this node ran when its agent
  // first started here, recorded in the state directory then.
  std::string StockKernelRelease();

  struct SwitchResult {
    // true: send `outcome` (rebooting) as STARTED, then call Reboot().
    bool reboot = false;
    v1::SwitchOutcome outcome;
    Evidence evidence;
  };
  // Carries out a SwitchMode step up to the reboot.
  absl::StatusOr<SwitchResult> Switch(const v1::Step& step);
  // Whether a Reboot that returned OK still has to take the machine down:
  // systemd's `systemctl reboot` and `systemctl kexec` (and `reboot`, a link
  // to systemctl) only queue the job and return. False on a simulated node,
  // whose reboot is done when it returns.
  bool RebootStillToCome() const { return !config_.boot.simulate; }
  // Reboots into the configured boot. Returns only on failure, after
  // forgetting the pending boot.
  absl::Status Reboot();

  // After a boot: the SUCCEEDED update of the switch step that rebooted
  // the node, with the new boot's evidence; nullopt when none is pending.
  std::optional<v1::StepUpdate> CompletePendingBoot();

 private:
  std::string PendingPath() const;
  // A switch that is done (in place, or after its boot): its outcome and
  // the probe's evidence with the method and the boot it started in.
  static void Switched(const std::string& method, const std::string& boot_id_before,
                       Probed probed, v1::SwitchOutcome* outcome, Evidence* evidence);

  FileSystem* sysroot_;
  FileSystem* host_;
  CommandRunner* runner_;
  NodeControlConfig config_;
  std::unique_ptr<BootConfigurator> configured_;  // set by Switch when a reboot follows
};

}  // namespace iommuvm::agent
