#include "agent/node/kexec_boot.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/node/inventory.h"

namespace iommuvm::agent {
namespace {

class KexecBoot final : public BootConfigurator {
 public:
  KexecBoot(FileSystem* fs, CommandRunner* runner) : fs_(fs), runner_(runner) {}
  std::string method() const override { return "kexec"; }

  absl::Status CanReach(const BootTarget&) override {
    if (!runner_->Which("kexec").ok()) {
      return absl::FailedPreconditionError("kexec: kexec-tools is not installed");
    }
    if (KernelRelease(*fs_).empty()) {
      return absl::FailedPreconditionError("kexec: cannot read /proc/sys/kernel/osrelease");
    }
    if (!fs_->Exists(Kernel())) {
      return absl::FailedPreconditionError(
          absl::StrCat("kexec: the running kernel's image ", Kernel(), " does not exist"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<SwitchOutcome> Apply(const BootTarget& target) override {
    auto current = fs_->ReadFile("/proc/cmdline");
    if (!current.ok()) return current.status();
    std::string cmdline = NextCmdline(std::string(absl::StripAsciiWhitespace(*current)), target);
    std::vector<std::string> argv = {"kexec", "-l", fs_->HostPath(Kernel())};
    std::string initrd = "/boot/initrd.img-" + KernelRelease(*fs_);
    if (fs_->Exists(initrd)) argv.push_back("--initrd=" + fs_->HostPath(initrd));
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
  std::string Kernel() const { return "/boot/vmlinuz-" + KernelRelease(*fs_); }

  FileSystem* fs_;
  CommandRunner* runner_;
};

}  // namespace

std::unique_ptr<BootConfigurator> MakeKexecBoot(FileSystem* fs, CommandRunner* runner) {
  return std::make_unique<KexecBoot>(fs, runner);
}

}  // namespace iommuvm::agent
