#include "agent/node/grub_boot.h"

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/node/grub_menu.h"
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
      std::string image = NextKernelImage(*fs_, target);
      if (!fs_->Exists(image)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "grub: the image ", image, " of ",
            target.kernel.release.empty() ? "the running kernel" : "kernel " + target.kernel.name,
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
    auto entry = DefaultEntry(target);
    return entry.ok() ? absl::OkStatus() : entry.status();
  }

  absl::StatusOr<SwitchOutcome> Apply(const BootTarget& target) override {
    if (target.grub_one_shot) return ApplyOneShot(target);
    BootTarget with_entry = target;
    auto entry = DefaultEntry(target);
    if (!entry.ok()) return entry.status();
    with_entry.kernel.grub_entry = *entry;
    absl::Status s = fs_->WriteFile(kGrubDropIn, GrubDropIn(with_entry));
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
  // The kernel axis: the menu entry GRUB_DEFAULT names, the spec's or the
  // one grub.cfg has for the kernel's image ("" without a kernel axis:
  // the node's own default stays).
  absl::StatusOr<std::string> DefaultEntry(const BootTarget& target) {
    if (target.kernel.release.empty()) return std::string();
    if (!target.kernel.grub_entry.empty()) return target.kernel.grub_entry;
    std::string image = NextKernelImage(*fs_, target);
    auto cfg = fs_->ReadFile(kGrubCfg);
    if (!cfg.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("grub: cannot read ", kGrubCfg, " to find the entry of kernel ",
                       target.kernel.name, "; give kernels.", target.kernel.name, ".grub_entry"));
    }
    std::string base = image.substr(image.rfind('/') + 1);
    std::string entry = GrubEntryFor(*cfg, base);
    if (entry.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("grub: no entry of ", kGrubCfg, " boots ", base, " (kernel ",
                       target.kernel.name, "): is it installed? run update-grub, or give kernels.",
                       target.kernel.name, ".grub_entry"));
    }
    // It goes between double quotes in the drop-in.
    if (entry.find_first_of("\"$`\\\n") != std::string::npos) {
      return absl::FailedPreconditionError(
          absl::StrCat("grub: the entry of kernel ", target.kernel.name, " in ", kGrubCfg, " (",
                       entry, ") has characters GRUB_DEFAULT cannot hold; give kernels.",
                       target.kernel.name, ".grub_entry"));
    }
    return entry;
  }

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
    std::string kernel = NextKernelImage(*fs_, target);
    std::string initrd = NextInitrd(*fs_, target);
    auto uuid = Output({"grub-probe", "--target=fs_uuid", fs_->HostPath(kernel)});
    if (!uuid.ok()) return uuid.status();
    auto kernel_rel = Output({"grub-mkrelpath", fs_->HostPath(kernel)});
    if (!kernel_rel.ok()) return kernel_rel.status();
    std::string initrd_rel;
    if (!initrd.empty()) {
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
  // Mode `current` (a kernel change only) keeps the mode tokens the file has.
  std::vector<std::string> patterns;
  if (target.mode != v1::IOMMU_MODE_CURRENT) {
    patterns = {"intel_iommu=*", "amd_iommu=*", "iommu=*", "iommu.strict=*", "iommu.passthrough=*"};
  }
  // Quoted, so each token matches itself only: `*`, `?` and `[...]` (as
  // in ivrs_ioapic[32]=00:14.0) are literal characters of a kernel
  // parameter, not patterns. Tokens cannot hold quotes (the grammar).
  for (absl::string_view t : absl::StrSplit(target.extra_cmdline, ' ', absl::SkipEmpty())) {
    patterns.push_back(absl::StrCat("'", t, "'"));
  }
  if (patterns.empty()) patterns.push_back("''");  // no word is empty: strips nothing
  return absl::StrCat(
      "# Managed by iommuvm-agent: the IOMMU mode of the next boot. Generated; do not edit.\n"
      "# Sourced by grub-mkconfig after /etc/default/grub, so it also overrides lines\n"
      "# appended to that file later (CloudLab's slicefix appends GRUB_CMDLINE_LINUX).\n"
      "iommuvm_strip() {\n"
      "  set -f  # tokens are words, never file names (only inside this $(...))\n"
      "  for t in $1; do\n"
      "    case \"$t\" in\n"
      "      ",
      absl::StrJoin(patterns, "|"),
      ") ;;\n"
      "      *) printf '%s ' \"$t\" ;;\n"
      "    esac\n"
      "  done\n"
      "}\n"
      "GRUB_CMDLINE_LINUX=\"$(iommuvm_strip \"$GRUB_CMDLINE_LINUX\")\"\n"
      "GRUB_CMDLINE_LINUX_DEFAULT=\"$(iommuvm_strip \"$GRUB_CMDLINE_LINUX_DEFAULT\")",
      absl::StrJoin(add, " "),
      "\"\n"
      "unset -f iommuvm_strip\n",
      // The kernel axis: the entry of the kernel to boot (grub.cfg's
      // `set default`).
      target.kernel.grub_entry.empty()
          ? ""
          : absl::StrCat("GRUB_DEFAULT=\"", target.kernel.grub_entry, "\"\n"));
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
