#include "agent/node/grub_boot.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace iommuvm::agent {
namespace {

class GrubBoot final : public BootConfigurator {
 public:
  GrubBoot(FileSystem* fs, CommandRunner* runner) : fs_(fs), runner_(runner) {}
  std::string method() const override { return "grub"; }

  absl::Status CanReach(const BootTarget&) override {
    if (!runner_->Which("update-grub").ok()) {
      return absl::FailedPreconditionError("grub: update-grub is not installed");
    }
    if (!fs_->Exists("/etc/default/grub")) {
      return absl::FailedPreconditionError("grub: /etc/default/grub does not exist");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<SwitchOutcome> Apply(const BootTarget& target) override {
    absl::Status s = fs_->WriteFile(kGrubDropIn, GrubDropIn(target));
    if (!s.ok()) return s;
    s = RunBootTool(runner_, {"update-grub"}, absl::Minutes(3));
    if (!s.ok()) return s;
    return SwitchOutcome::kRebootRequired;
  }

  absl::Status Reboot() override {
    if (runner_->Which("systemctl").ok()) {
      return RunBootTool(runner_, {"systemctl", "reboot"}, absl::Minutes(1));
    }
    return RunBootTool(runner_, {"reboot"}, absl::Minutes(1));
  }

 private:
  FileSystem* fs_;
  CommandRunner* runner_;
};

}  // namespace

std::string GrubDropIn(const BootTarget& target) {
  std::vector<std::string> add;
  for (absl::string_view t : absl::StrSplit(target.tokens + " " + target.extra_cmdline, ' ',
                                            absl::SkipEmpty())) {
    add.emplace_back(t);
  }
  std::string extra_patterns;
  for (absl::string_view t : absl::StrSplit(target.extra_cmdline, ' ', absl::SkipEmpty())) {
    absl::StrAppend(&extra_patterns, "|", t);
  }
  return absl::StrCat(
      "# Managed by iommuvm-agent: the IOMMU mode of the next boot. Generated; do not edit.\n"
      "# Sourced by grub-mkconfig after /etc/default/grub, so it also overrides lines\n"
      "# appended to that file later (CloudLab's slicefix appends GRUB_CMDLINE_LINUX).\n"
      "iommuvm_strip() {\n"
      "  for t in $1; do\n"
      "    case \"$t\" in\n"
      "      intel_iommu=*|amd_iommu=*|iommu=*|iommu.strict=*|iommu.passthrough=*",
      extra_patterns,
      ") ;;\n"
      "      *) printf '%s ' \"$t\" ;;\n"
      "    esac\n"
      "  done\n"
      "}\n"
      "GRUB_CMDLINE_LINUX=\"$(iommuvm_strip \"$GRUB_CMDLINE_LINUX\")\"\n"
      "GRUB_CMDLINE_LINUX_DEFAULT=\"$(iommuvm_strip \"$GRUB_CMDLINE_LINUX_DEFAULT\")",
      absl::StrJoin(add, " "),
      "\"\n"
      "unset -f iommuvm_strip\n");
}

std::unique_ptr<BootConfigurator> MakeGrubBoot(FileSystem* fs, CommandRunner* runner) {
  return std::make_unique<GrubBoot>(fs, runner);
}

}  // namespace iommuvm::agent
