#include "agent/node/sim_node.h"

#include <unistd.h>

#include <cstring>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "agent/node/sysfs_boot.h"
#include "common/log.h"
#include "iommu/cmdline.h"

namespace iommuvm::agent {
namespace {

constexpr char kNicBdf[] = "0000:00:02.0";
constexpr char kNextCmdline[] = "/sim/next_cmdline";
constexpr char kNextRelease[] = "/sim/next_release";

// The capture's PCI devices: (bdf, driver, group).
struct SimDevice {
  const char* bdf;
  const char* driver;
  const char* group;
};
constexpr SimDevice kDevices[] = {
    {"0000:00:00.0", "", "0"},
    {"0000:00:01.0", "bochs-drm", "1"},
    {"0000:00:02.0", "virtio-pci", "2"},
    {"0000:00:1f.0", "lpc_ich", "3"},
    {"0000:00:1f.2", "ahci", "3"},
    {"0000:00:1f.3", "i801_smbus", "3"},
};

std::string NewBootId() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(::getpid()));
  uint64_t a = rng(), b = rng();
  return absl::StrFormat("%08x-%04x-4%03x-%04x-%012x", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                         0x8000 | ((b >> 48) & 0x3fff), b & 0xffffffffffffull);
}

// Every write of one boot; stops at the first error.
class Writer {
 public:
  explicit Writer(FileSystem* fs) : fs_(fs) {}
  void File(const std::string& path, const std::string& content) {
    if (status_.ok()) status_ = fs_->WriteFile(path, content);
  }
  absl::Status status() const { return status_; }

 private:
  FileSystem* fs_;
  absl::Status status_;
};

class SimBootMethod final : public BootConfigurator {
 public:
  SimBootMethod(FileSystem* fs, std::string requested, SimNodeSpec node,
                std::vector<std::string> restart_argv)
      : fs_(fs),
        requested_(std::move(requested)),
        node_(std::move(node)),
        restart_argv_(std::move(restart_argv)) {}

  std::string method() const override { return "sim-" + requested_; }

  absl::Status CanReach(const BootTarget& target) override {
    if (requested_ == "sysfs" && ChangesKernel(*fs_, target)) {
      return absl::FailedPreconditionError(
          absl::StrCat("sim-sysfs: cannot boot kernel ", target.kernel.release, " in place"));
    }
    if (std::string image = NextKernelImage(*fs_, target);
        requested_ != "sysfs" && !fs_->Exists(image)) {
      return absl::FailedPreconditionError(absl::StrCat("sim-", requested_, ": the image ", image,
                                                        " of kernel ", target.kernel.name,
                                                        " does not exist"));
    }
    if (requested_ == "sysfs") {
      if (target.mode == v1::IOMMU_MODE_OFF) {
        return absl::FailedPreconditionError(
            "sim-sysfs: cannot turn the IOMMU off in place; that needs a reboot");
      }
      if (!fs_->Exists("/sys/kernel/iommu_groups/2/type")) {
        return absl::FailedPreconditionError("sim-sysfs: the IOMMU is off; no group to retype");
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<SwitchOutcome> Apply(const BootTarget& target) override {
    if (requested_ == "sysfs") {
      std::string type = GroupTypeFor(target.mode);
      if (node_.caching_mode && type == "DMA-FQ") type = "DMA";  // the kernel refuses FQ
      absl::Status s = fs_->WriteFile("/sys/kernel/iommu_groups/2/type", type + "\n");
      if (!s.ok()) return s;
      return SwitchOutcome::kSwitchedInPlace;
    }
    auto current = fs_->ReadFile("/proc/cmdline");
    std::string cmdline = NextCmdline(
        current.ok() ? std::string(absl::StripAsciiWhitespace(*current)) : "", target);
    absl::Status s = fs_->WriteFile(kNextCmdline, cmdline);
    if (s.ok()) s = fs_->WriteFile(kNextRelease, NextRelease(*fs_, target));
    if (!s.ok()) return s;
    return SwitchOutcome::kRebootRequired;
  }

  absl::Status Reboot() override {
    auto next = fs_->ReadFile(kNextCmdline);
    if (!next.ok()) return next.status();
    auto release = fs_->ReadFile(kNextRelease);
    absl::Status s = SimBoot(fs_, *next, node_,
                             release.ok() ? std::string(absl::StripAsciiWhitespace(*release)) : "");
    if (!s.ok()) return s;
    (void)fs_->RemoveAll(kNextCmdline);
    (void)fs_->RemoveAll(kNextRelease);
    if (restart_argv_.empty()) return absl::OkStatus();  // tests: no process to restart
    Log("agent", "simulated ", requested_, " reboot: restarting as ", restart_argv_[0]);
    std::vector<char*> argv;
    for (auto& a : restart_argv_) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv("/proc/self/exe", argv.data());
    return absl::InternalError(absl::StrCat("cannot restart the agent: ", strerror(errno)));
  }

 private:
  FileSystem* fs_;
  std::string requested_;
  SimNodeSpec node_;
  std::vector<std::string> restart_argv_;
};

}  // namespace

v1::IommuMode SimulatedMode(const std::string& cmdline, const SimNodeSpec& node) {
  v1::IommuMode mode = iommu::RequestedModeFromCmdline(cmdline);
  bool intel_on = false;
  for (absl::string_view t : absl::StrSplit(cmdline, ' ', absl::SkipEmpty())) {
    if (absl::StartsWith(t, "intel_iommu=")) intel_on = absl::StrContains(t, "on");
  }
  if (mode == v1::IOMMU_MODE_OFF) return mode;
  if (node.vendor == "intel" && !intel_on) return v1::IOMMU_MODE_OFF;
  if (mode == v1::IOMMU_MODE_UNSPECIFIED) mode = v1::IOMMU_MODE_LAZY;
  return mode;
}

absl::Status SimBoot(FileSystem* fs, const std::string& cmdline, const SimNodeSpec& node,
                     const std::string& release) {
  if (fs->HostPath("/") == "/") {
    return absl::FailedPreconditionError(
        "a simulated node needs its own sysroot (--sysroot DIR), never the real /");
  }
  v1::IommuMode mode = SimulatedMode(cmdline, node);
  bool intel = node.vendor == "intel";
  bool forced_strict = mode == v1::IOMMU_MODE_LAZY && node.caching_mode && intel;
  std::string type = GroupTypeFor(forced_strict ? v1::IOMMU_MODE_STRICT : mode);
  for (const char* dir : {"/sys", "/proc"}) {
    absl::Status s = fs->RemoveAll(dir);
    if (!s.ok()) return s;
  }
  Writer w(fs);
  std::string boot_id = NewBootId();
  w.File("/proc/sys/kernel/random/boot_id", boot_id + "\n");
  w.File("/proc/cmdline", cmdline + "\n");
  std::string running = release.empty() ? kSimStockRelease : release;
  w.File("/proc/sys/kernel/osrelease", running + "\n");
  // The kernel it runs is installed (so kexec can come back to it).
  if (!fs->Exists("/boot/vmlinuz-" + running)) w.File("/boot/vmlinuz-" + running, "sim kernel\n");
  w.File("/proc/sys/kernel/hostname", "simnode\n");

  // The kernel log, worded as 6.1 words it.
  bool explicit_policy = absl::StrContains(cmdline, "iommu.strict=");
  std::string log = "[    0.000000] Command line: " + cmdline + "\n";
  if (intel) {
    log += mode == v1::IOMMU_MODE_OFF ? "[    0.135117] DMAR: IOMMU disabled\n"
                                      : "[    0.135117] DMAR: IOMMU enabled\n";
  }
  if (mode == v1::IOMMU_MODE_PASSTHROUGH) {
    log += "[    1.401073] iommu: Default domain type: Passthrough (set via kernel command line)\n";
  } else {
    log += "[    1.401073] iommu: Default domain type: Translated \n";
    log += absl::StrCat("[    1.401073] iommu: DMA domain TLB invalidation policy: ",
                        mode == v1::IOMMU_MODE_STRICT ? "strict" : "lazy", " mode ",
                        explicit_policy ? "(set via kernel command line)" : "", "\n");
  }
  if (intel && node.caching_mode && mode != v1::IOMMU_MODE_OFF) {
    log += "[    1.765340] DMAR: IOMMU batching disallowed due to virtualization\n";
  }

  for (const SimDevice& d : kDevices) {
    std::string dir = absl::StrCat("/sys/devices/pci0000:00/", d.bdf);
    w.File(dir + "/vendor", "0x1af4\n");
    w.File(dir + "/class", std::string(d.bdf) == kNicBdf ? "0x020000\n" : "0x060000\n");
    w.File(dir + "/numa_node", "-1\n");
    // Links stored as files holding their target, as in the captures.
    w.File(absl::StrCat("/sys/bus/pci/devices/", d.bdf),
           absl::StrCat("../../../devices/pci0000:00/", d.bdf));
    if (*d.driver) w.File(dir + "/driver", absl::StrCat("../../../bus/pci/drivers/", d.driver));
    if (mode == v1::IOMMU_MODE_OFF) continue;
    std::string group = absl::StrCat("/sys/kernel/iommu_groups/", d.group);
    w.File(group + "/type", type + "\n");
    w.File(absl::StrCat(group, "/devices/", d.bdf),
           absl::StrCat("../../../../devices/pci0000:00/", d.bdf));
    w.File(dir + "/iommu_group", absl::StrCat("../../../kernel/iommu_groups/", d.group));
    log += absl::StrCat("[    1.772067] pci ", d.bdf, ": Adding to iommu group ", d.group, "\n");
  }
  std::string unit = intel ? "dmar0" : "ivhd0";
  if (mode != v1::IOMMU_MODE_OFF) {
    w.File("/sys/class/iommu/" + unit, "../../devices/virtual/iommu/" + unit);
    w.File("/sys/devices/virtual/iommu/" + unit + "/uevent", "");
  }
  w.File("/sys/class/net/eth0", absl::StrCat("../../devices/pci0000:00/", kNicBdf,
                                             "/virtio0/net/eth0"));
  w.File(absl::StrCat("/sys/devices/pci0000:00/", kNicBdf, "/virtio0/net/eth0/address"),
         "52:54:00:12:34:56\n");
  w.File("/sys/class/net/lo", "../../devices/virtual/net/lo");
  w.File("/sys/devices/virtual/net/lo/address", "00:00:00:00:00:00\n");
  w.File("/dmesg.txt", log);
  return w.status();
}

std::unique_ptr<BootConfigurator> MakeSimBoot(FileSystem* fs, std::string requested,
                                              SimNodeSpec node,
                                              std::vector<std::string> restart_argv) {
  return std::make_unique<SimBootMethod>(fs, std::move(requested), std::move(node),
                                         std::move(restart_argv));
}

}  // namespace iommuvm::agent
