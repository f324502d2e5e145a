#include "agent/node/kexec_boot.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/node/inventory.h"

namespace iommuvm::agent {
namespace {

class KexecBoot final : public BootConfigurator {
 public:
  KexecBoot(FileSystem* fs, CommandRunner* runner) : fs_(fs), runner_(runner) {}
  std::string method() const override { return "kexec"; }

  absl::Status CanReach(const BootTarget& target) override {
    if (!runner_->Which("kexec").ok()) {
      return absl::FailedPreconditionError("kexec: kexec-tools is not installed");
    }
    if (KernelRelease(*fs_).empty()) {
      return absl::FailedPreconditionError("kexec: cannot read /proc/sys/kernel/osrelease");
    }
    std::string image = NextKernelImage(*fs_, target);
    if (!fs_->Exists(image)) {
      return absl::FailedPreconditionError(
          target.kernel.release.empty()
              ? absl::StrCat("kexec: the running kernel's image ", image, " does not exist")
              : absl::StrCat("kexec: the image ", image, " of kernel ", target.kernel.name,
                             " does not exist on this node"));
    }
    if (!target.kernel.initrd.empty() && !fs_->Exists(target.kernel.initrd)) {
      return absl::FailedPreconditionError(absl::StrCat("kexec: the initrd ", target.kernel.initrd,
                                                        " of kernel ", target.kernel.name,
                                                        " does not exist on this node"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<SwitchOutcome> Apply(const BootTarget& target) override {
    auto current = fs_->ReadFile("/proc/cmdline");
    if (!current.ok()) return current.status();
    std::string image = NextKernelImage(*fs_, target);
    std::string cmdline = NextCmdline(std::string(absl::StripAsciiWhitespace(*current)), target);
    // grub's BOOT_IMAGE names the image it loaded; the next boot's is this one.
    std::vector<std::string> tokens = absl::StrSplit(cmdline, ' ', absl::SkipEmpty());
    for (std::string& t : tokens) {
      if (absl::StartsWith(t, "BOOT_IMAGE=")) t = "BOOT_IMAGE=" + image;
    }
    cmdline = absl::StrJoin(tokens, " ");
    std::vector<std::string> argv = {"kexec", "-l", fs_->HostPath(image)};
    std::string initrd = NextInitrd(*fs_, target);
    if (!initrd.empty()) argv.push_back("--initrd=" + fs_->HostPath(initrd));
    argv.push_back("--command-line=" + cmdline);
    absl::Status s = RunBootTool(runner_, argv, absl::Minutes(1));
    if (!s.ok()) return s;
    return SwitchOutcome::kRebootRequired;
  }

  absl::Status Reboot() override {
    if (runner_->Which("systemctl").ok()) {
      return RunBootTool(runner_, {"systemctl", "kexec"}, absl::Minutes(2));
    }
    return RunBootTool(runner_, {"kexec", "-e"}, absl::Minutes(1));
  }

 private:
  FileSystem* fs_;
  CommandRunner* runner_;
};

}  // namespace

std::unique_ptr<BootConfigurator> MakeKexecBoot(FileSystem* fs, CommandRunner* runner) {
  return std::make_unique<KexecBoot>(fs, runner);
}

}  // namespace iommuvm::agent
