#pragma once
// A simulated node for the demo and for tests on machines that must not
// reboot. Its /proc and /sys live under the agent's sysroot and are written
// exactly as Linux 6.1 presents them for a given command line (modelled on
// the real captures in ../shared/fixtures/sysfs): boot id, /proc/cmdline,
// an IOMMU unit (dmar0 / ivhd0) unless off, four IOMMU groups whose type
// follows the mode, a virtio NIC, and dmesg.txt with the kernel's IOMMU
// lines. With caching_mode (an emulated VT-d set up for VFIO) a lazy
// request runs strict, as the real kernel does.
//
// The sim boot method carries out any requested method: "sysfs" retypes
// the NIC's group in place; the others write the next command line,
// "reboot" by regenerating the sysroot with a new boot id and restart the
// agent process (exec of itself, as systemd would start it after a boot).

#include <memory>
#include <string>
#include <vector>

#include "agent/node/boot_configurator.h"

namespace iommuvm::agent {

struct SimNodeSpec {
  std::string vendor = "intel";  // intel | amd
  bool caching_mode = false;
};

// The mode the simulated kernel runs for `cmdline`. Like Debian's 6.1
// build: Intel's IOMMU is on only with intel_iommu=on; the default DMA
// policy is lazy.
v1::IommuMode SimulatedMode(const std::string& cmdline, const SimNodeSpec& node);

// The release a simulated node boots unless told otherwise.
inline constexpr char kSimStockRelease[] = "6.1.0-sim-amd64";

// Writes a fresh boot of `cmdline` into `fs` (a new boot id each time),
// running kernel `release` ("" = kSimStockRelease), whose image
// /boot/vmlinuz-<release> it installs when missing. Another kernel is
// "installed" by writing its image under the sysroot's /boot.
absl::Status SimBoot(FileSystem* fs, const std::string& cmdline, const SimNodeSpec& node,
                     const std::string& release = "");

// The sim method for `requested` (sysfs | kexec | grub). `restart_argv`
// is exec'ed after the simulated reboot.
std::unique_ptr<BootConfigurator> MakeSimBoot(FileSystem* fs, std::string requested,
                                              SimNodeSpec node,
                                              std::vector<std::string> restart_argv);

}  // namespace iommuvm::agent
