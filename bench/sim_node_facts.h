#pragma once
// What a simulated node (iommuvm-agent --simulate_boot) tells the
// controller, produced by the agent's own simulated-node code (SimBoot,
// NodeControl's probe and sim switch methods) on one scratch sysroot: the
// inventory and probe it registers with, and its answers to VerifyMode and
// SwitchMode steps. Thousands of simulated agents share one SimNodeFacts;
// each keeps only its node's state, and a probe is computed once per state
// and handed out with the asking agent's boot id. Thread-safe.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "absl/status/statusor.h"
#include "agent/node/node_control.h"
#include "common/command_runner.h"
#include "common/file_system.h"
#include "iommuvm/v1/agent.pb.h"

namespace iommuvm::bench {

// One simulated node's boot, as far as the controller can tell.
struct SimNodeState {
  // The agent's --sim_cmdline default: Intel, strict.
  std::string cmdline = "console=ttyS0 intel_iommu=on iommu.strict=1";
  std::string group_type;  // "" as booted; else the data NIC group's type after sim-sysfs
  std::string boot_id;
};

// A SwitchMode step's outcome on a simulated node.
struct SimSwitch {
  std::string error;  // non-empty: the step fails with it
  // The node reboots: STARTED with `outcome` (rebooting) now, the session
  // ends, and after the boot the agent reports `after` (SUCCEEDED).
  bool reboot = false;
  v1::SwitchOutcome outcome;
  std::map<std::string, std::string> evidence;
  v1::StepUpdate after;
  SimNodeState next;  // the node once switched (after the boot: a new boot id)
};

class SimNodeFacts {
 public:
  // `scratch_dir` (created, and removed on destruction) holds the sysroot.
  static absl::StatusOr<std::unique_ptr<SimNodeFacts>> Create(const std::string& scratch_dir);
  ~SimNodeFacts();

  // The registration of agent `agent_id` on `node`: boot, command line,
  // inventory, tool versions and the probe. Roles, labels, the outbox and
  // the session's fields are the caller's.
  v1::Register RegisterFor(const std::string& agent_id, const SimNodeState& node);
  // What VerifyMode answers on `node`.
  agent::NodeControl::Probed Probe(const SimNodeState& node, v1::IommuMode expected,
                                   const std::string& release);
  // Carries out SwitchMode `step` on `node` as the sim boot methods do.
  SimSwitch Switch(const SimNodeState& node, const v1::Step& step);

  // A random boot id in /proc/sys/kernel/random/boot_id's format.
  static std::string NewBootId();

 private:
  explicit SimNodeFacts(std::string scratch_dir);
  // Writes `node`'s boot into the scratch sysroot (mu_ held).
  absl::Status Restore(const SimNodeState& node);
  agent::NodeControl Control();
  // The scratch sysroot's boot id replaced by `boot_id` wherever it shows.
  void Rebrand(v1::ProbeReport* report, const std::string& boot_id) const;

  std::string dir_;
  LocalFileSystem sysroot_;
  LocalFileSystem host_;
  LocalCommandRunner runner_;
  std::mutex mu_;
  std::string scratch_boot_id_;  // of the boot last restored
  // Probes by (command line, group type, expected mode, release).
  std::map<std::tuple<std::string, std::string, int, std::string>, agent::NodeControl::Probed>
      probes_;
  std::map<std::string, v1::Inventory> inventories_;  // by command line
};

}  // namespace iommuvm::bench
