#pragma once
// The environment a measurement depends on, read and set on the node: CPU
// frequency governor, turbo, C-states, SMT, irqbalance, and the data NIC's
// MTU, channels, rings, pause frames, offloads and queue IRQ affinity.
// Snapshot reads every knob whatever the spec sets (so two runs can be
// compared knob by knob: `iommuvm diff-env`); Apply sets the knobs a
// HostSettings names and reads each back: a value that did not stick is a
// failure naming the knob, the value asked for and the value read.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/command_runner.h"
#include "common/file_system.h"
#include "iommuvm/v1/common.pb.h"

namespace iommuvm::agent {

class HostEnvironment {
 public:
  HostEnvironment(FileSystem* fs, CommandRunner* runner) : fs_(fs), runner_(runner) {}

  // Every knob by name ("governor", "turbo", "smt", "cstates", "irqbalance",
  // "kernel", "nic", "nic.mtu", "nic.channels", "nic.rings", "nic.pause",
  // "nic.tso", "nic.gro", "nic.lro", "nic.irqs"), as read now; a knob the
  // node lacks reads "unsupported" (with why). `nic` "" skips the NIC.
  std::map<std::string, std::string> Snapshot(const std::string& nic);

  struct Applied {
    std::map<std::string, std::string> env;  // Snapshot after applying
    std::vector<std::string> not_held;       // best_effort: what did not stick
  };
  // Sets every knob `s` names on this node (its data NIC `nic`; IRQ
  // affinity "auto" avoids `busy_cores`, the server's or generator's), then
  // reads them back. FailedPrecondition listing every knob that could not
  // be set or reads otherwise, unless s.best_effort.
  absl::StatusOr<Applied> Apply(const v1::HostSettings& s, const std::string& nic,
                                const std::string& busy_cores);

  // The CPUs of `nic`'s NUMA node (every online CPU when it has none),
  // without `busy_cores`: where "auto" puts the NIC's queue IRQs.
  std::vector<int> IrqCpus(const std::string& nic, const std::string& busy_cores);
  // The IRQs of `nic`'s queues from /proc/interrupts (named after the
  // interface, or "<queue>@pci:<its PCI address>" as mlx5 names them).
  std::vector<int> NicIrqs(const std::string& nic);

 private:
  std::vector<int> OnlineCpus();
  std::string Governor();
  std::string Turbo();
  std::string Smt();
  std::string CStates();
  std::string IrqBalance();
  std::string Ethtool(const std::vector<std::string>& args, bool* ok);
  std::string Channels(const std::string& nic);
  std::string Rings(const std::string& nic);
  std::string Pause(const std::string& nic);
  std::string Offload(const std::string& nic, const std::string& name);
  std::string Irqs(const std::string& nic);
  // Runs a setter; "" on success, else its words.
  std::string Run(const std::vector<std::string>& argv);

  FileSystem* fs_;
  CommandRunner* runner_;
};

}  // namespace iommuvm::agent
