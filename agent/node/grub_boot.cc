#include "agent/node/grub_boot.h"

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/node/inventory.h"

namespace iommuvm::agent {
namespace {

class GrubBoot final : public BootConfigurator {
 public:
  GrubBoot(FileSystem* fs, CommandRunner* runner) : fs_(fs), runner_(runner) {}
  std::string method() const override { return "grub"; }

  absl::Status CanReach(const BootTarget& target) override {
    if (target.grub_one_shot) {
      for (const char* tool : {"grub-reboot", "grub-probe", "grub-mkrelpath"}) {
        if (!runner_->Which(tool).ok()) {
          return absl::FailedPreconditionError(absl::StrCat("grub: ", tool, " is not installed"));
        }
      }
      if (!fs_->Exists("/boot/vmlinuz-" + KernelRelease(*fs_))) {
        return absl::FailedPreconditionError(
            absl::StrCat("grub: the running kernel's image /boot/vmlinuz-", KernelRelease(*fs_),
                         " does not exist"));
      }
      return absl::OkStatus();
    }
    if (!runner_->Which("update-grub").ok()) {
      return absl::FailedPreconditionError("grub: update-grub is not installed");
    }
    if (!fs_->Exists("/etc/default/grub")) {
      return absl::FailedPreconditionError("grub: /etc/default/grub does not exist");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<SwitchOutcome> Apply(const BootTarget& target) override {
    if (target.grub_one_shot) return ApplyOneShot(target);
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

  // A tool's first output line, or its failure.
  absl::StatusOr<std::string> Output(std::vector<std::string> argv) {
    CommandSpec spec;
    spec.argv = std::move(argv);
    spec.timeout = absl::Seconds(30);
    auto r = runner_->Run(spec);
    if (!r.ok()) return r.status();
    if (!r->ok()) return absl::InternalError(r->Describe(spec.argv[0]));
    std::string out(absl::StripAsciiWhitespace(r->out));
    return out.substr(0, out.find('\n'));
  }

  absl::StatusOr<SwitchOutcome> ApplyOneShot(const BootTarget& target) {
    std::string kernel = "/boot/vmlinuz-" + KernelRelease(*fs_);
    std::string initrd = "/boot/initrd.img-" + KernelRelease(*fs_);
    auto uuid = Output({"grub-probe", "--target=fs_uuid", fs_->HostPath(kernel)});
    if (!uuid.ok()) return uuid.status();
    auto kernel_rel = Output({"grub-mkrelpath", fs_->HostPath(kernel)});
    if (!kernel_rel.ok()) return kernel_rel.status();
    std::string initrd_rel;
    if (fs_->Exists(initrd)) {
      auto rel = Output({"grub-mkrelpath", fs_->HostPath(initrd)});
      if (!rel.ok()) return rel.status();
      initrd_rel = *rel;
    }
    auto current = fs_->ReadFile("/proc/cmdline");
    // grub adds BOOT_IMAGE itself.
    std::vector<std::string> kept;
    for (absl::string_view t : absl::StrSplit(current.ok() ? *current : "", absl::ByAnyChar(" \n"),
                                              absl::SkipEmpty())) {
      if (!absl::StartsWith(t, "BOOT_IMAGE=")) kept.emplace_back(t);
    }
    std::string cmdline = NextCmdline(absl::StrJoin(kept, " "), target);
    // The file may hold the user's own entries: only iommuvm's block changes.
    absl::Status s =
        fs_->WriteFile(kGrubCustomCfg,
                       WithOneShotEntry(fs_->ReadFile(kGrubCustomCfg).value_or(""),
                                        GrubOneShotEntry(*uuid, *kernel_rel, initrd_rel, cmdline)));
    if (!s.ok()) return s;
    s = RunBootTool(runner_, {"grub-reboot", kGrubOneShotId}, absl::Minutes(1));
    if (!s.ok()) return s;
    return SwitchOutcome::kRebootRequired;
  }

  FileSystem* fs_;
  CommandRunner* runner_;
};

}  // namespace

namespace {
constexpr char kBlockBegin[] = "### BEGIN iommuvm one-shot entry (managed by iommuvm-agent) ###\n";
constexpr char kBlockEnd[] = "### END iommuvm one-shot entry ###\n";
}  // namespace

bool HasOneShotEntry(const std::string& custom_cfg) {
  return absl::StrContains(custom_cfg, absl::StrCat("--id ", kGrubOneShotId));
}

std::string WithoutOneShotEntry(const std::string& custom_cfg) {
  size_t begin = custom_cfg.find(kBlockBegin);
  if (begin == std::string::npos) return HasOneShotEntry(custom_cfg) ? "" : custom_cfg;
  size_t end = custom_cfg.find(kBlockEnd, begin);
  end = end == std::string::npos ? custom_cfg.size() : end + strlen(kBlockEnd);
  std::string rest = custom_cfg.substr(0, begin) + custom_cfg.substr(end);
  return absl::StripAsciiWhitespace(rest).empty() ? "" : rest;
}

std::string WithOneShotEntry(const std::string& custom_cfg, const std::string& entry) {
  std::string rest = WithoutOneShotEntry(custom_cfg);
  if (!rest.empty() && rest.back() != '\n') rest += '\n';
  return absl::StrCat(rest, kBlockBegin, entry, kBlockEnd);
}

std::string GrubDropIn(const BootTarget& target) {
  std::vector<std::string> add;
  for (absl::string_view t : absl::StrSplit(target.tokens + " " + target.extra_cmdline, ' ',
                                            absl::SkipEmpty())) {
    add.emplace_back(t);
  }
  std::string extra_patterns;
  // Quoted, so each token matches itself only: `*`, `?` and `[...]` (as
  // in ivrs_ioapic[32]=00:14.0) are literal characters of a kernel
  // parameter, not patterns. Tokens cannot hold quotes (the grammar).
  for (absl::string_view t : absl::StrSplit(target.extra_cmdline, ' ', absl::SkipEmpty())) {
    absl::StrAppend(&extra_patterns, "|'", t, "'");
  }
  return absl::StrCat(
      "# Managed by iommuvm-agent: the IOMMU mode of the next boot. Generated; do not edit.\n"
      "# Sourced by grub-mkconfig after /etc/default/grub, so it also overrides lines\n"
      "# appended to that file later (CloudLab's slicefix appends GRUB_CMDLINE_LINUX).\n"
      "iommuvm_strip() {\n"
      "  set -f  # tokens are words, never file names (only inside this $(...))\n"
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

std::string GrubOneShotEntry(const std::string& boot_uuid, const std::string& kernel,
                             const std::string& initrd, const std::string& cmdline) {
  std::string entry = absl::StrCat(
      "# Managed by iommuvm-agent: a one-shot entry for the next IOMMU mode switch,\n"
      "# booted once by `grub-reboot ", kGrubOneShotId,
      "`; the default entry is untouched.\n"
      "menuentry 'iommuvm: next boot' --id ", kGrubOneShotId,
      " {\n"
      "  insmod gzio\n  insmod part_gpt\n  insmod part_msdos\n  insmod ext2\n"
      "  search --no-floppy --fs-uuid --set=root ", boot_uuid, "\n  linux ", kernel, " ",
      cmdline, "\n");
  if (!initrd.empty()) absl::StrAppend(&entry, "  initrd ", initrd, "\n");
  absl::StrAppend(&entry, "}\n");
  return entry;
}

std::unique_ptr<BootConfigurator> MakeGrubBoot(FileSystem* fs, CommandRunner* runner) {
  return std::make_unique<GrubBoot>(fs, runner);
}

}  // namespace iommuvm::agent
