#pragma once
// Switching a node's host IOMMU mode. Four methods behind one interface,
// chosen per spec (`switch`: method + fallback), cheapest first:
//   sysfs  retype the data-plane NIC's IOMMU group in place (no reboot;
//          not for `off`; kernel >= 5.11, DMA-FQ >= 5.15)
//   kexec  load the running kernel with the new command line, kexec into it
//   grub   drop-in under /etc/default/grub.d, update-grub, reboot
//   sim    a simulated node in a sysroot (demo, tests): "reboots" by
//          regenerating the sysroot as the real kernel would present the
//          new mode and restarting the agent
// Every path goes through the sysroot FileSystem and every program through
// the CommandRunner, so all of it is tested on fixture trees.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/command_runner.h"
#include "common/file_system.h"
#include "iommuvm/v1/common.pb.h"

namespace iommuvm::agent {

// The kernel axis: another kernel to boot (release empty: the running one).
struct KernelTarget {
  std::string name;        // the spec's name, for messages ("stock", "6.12.9-fns")
  std::string release;     // what `uname -r` will say
  std::string image;       // "" = /boot/vmlinuz-<release>
  std::string initrd;      // "" = /boot/initrd.img-<release> when it exists
  std::string grub_entry;  // grub: "" = the entry that boots `image`, from grub.cfg
};

// What a switch asks for.
struct BootTarget {
  v1::IommuMode mode = v1::IOMMU_MODE_UNSPECIFIED;
  std::string tokens;         // the mode's tokens for this node's vendor
  std::string extra_cmdline;  // added to every boot
  std::string data_nic;       // sysfs: the NIC whose group is retyped ("" = the only one)
  bool grub_one_shot = false;  // grub: boot it once, keep the default entry
  KernelTarget kernel;
};

// The release the next boot runs: the target's kernel, else the running one.
std::string NextRelease(const FileSystem& fs, const BootTarget& target);
// The kernel image of the next boot (a path in `fs`).
std::string NextKernelImage(const FileSystem& fs, const BootTarget& target);
// Its initrd: the target's, else /boot/initrd.img-<release> when it exists
// ("" = none).
std::string NextInitrd(const FileSystem& fs, const BootTarget& target);
// Whether the target boots a kernel other than the running one.
bool ChangesKernel(const FileSystem& fs, const BootTarget& target);

enum class SwitchOutcome {
  kSwitchedInPlace,  // the node runs the new mode now
  kRebootRequired,   // the next boot runs it; call Reboot()
};

class BootConfigurator {
 public:
  virtual ~BootConfigurator() = default;
  virtual std::string method() const = 0;
  // OK when this method can put the node into target.mode now; otherwise
  // why not (the caller then tries the spec's fallback).
  virtual absl::Status CanReach(const BootTarget& target) = 0;
  // Prepares the next boot, or switches in place.
  virtual absl::StatusOr<SwitchOutcome> Apply(const BootTarget& target) = 0;
  // Reboots into the prepared boot. An error: it failed. OK: the reboot is
  // under way (a systemd job queued: the machine goes down in a moment,
  // stopping the agent) or, simulated, done.
  virtual absl::Status Reboot() = 0;
};

// The command line the next boot gets: `current` without its mode tokens
// and without tokens of `target.extra_cmdline` (no duplicates after many
// switches), then the mode tokens, then the extra tokens. Mode `current`
// (a kernel change only) keeps the mode tokens it has.
std::string NextCmdline(const std::string& current, const BootTarget& target);

// Runs one of the boot tools (update-grub, kexec, reboot); its own failure
// message on error.
absl::Status RunBootTool(CommandRunner* runner, std::vector<std::string> argv,
                         absl::Duration timeout);

struct BootMethodsConfig {
  // Simulated node (sim_node.h): every method is carried out on the sysroot.
  bool simulate = false;
  std::string sim_vendor = "intel";
  bool sim_caching_mode = false;
  std::vector<std::string> restart_argv;  // sim: the agent's own argv
};

// The first of `methods` that can reach the target; the error lists why
// each was refused.
absl::StatusOr<std::unique_ptr<BootConfigurator>> ChooseBootConfigurator(
    const std::vector<std::string>& methods, const BootTarget& target, FileSystem* fs,
    CommandRunner* runner, const BootMethodsConfig& config);

}  // namespace iommuvm::agent
