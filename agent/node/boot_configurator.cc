#include "agent/node/boot_configurator.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/node/grub_boot.h"
#include "agent/node/inventory.h"
#include "agent/node/kexec_boot.h"
#include "agent/node/sim_node.h"
#include "agent/node/sysfs_boot.h"
#include "iommu/cmdline.h"

namespace iommuvm::agent {

std::string NextCmdline(const std::string& current, const BootTarget& target) {
  std::set<std::string> extra;
  for (absl::string_view t : absl::StrSplit(target.extra_cmdline, ' ', absl::SkipEmpty())) {
    extra.emplace(t);
  }
  std::vector<std::string> kept;
  for (absl::string_view t : absl::StrSplit(
           target.mode == v1::IOMMU_MODE_CURRENT ? current : iommu::ReplaceModeTokens(current, ""),
           ' ', absl::SkipEmpty())) {
    if (!extra.count(std::string(t))) kept.emplace_back(t);
  }
  for (absl::string_view t : absl::StrSplit(target.tokens, ' ', absl::SkipEmpty())) {
    kept.emplace_back(t);
  }
  for (absl::string_view t : absl::StrSplit(target.extra_cmdline, ' ', absl::SkipEmpty())) {
    kept.emplace_back(t);
  }
  return absl::StrJoin(kept, " ");
}

std::string NextRelease(const FileSystem& fs, const BootTarget& target) {
  return target.kernel.release.empty() ? KernelRelease(fs) : target.kernel.release;
}

std::string NextKernelImage(const FileSystem& fs, const BootTarget& target) {
  if (!target.kernel.image.empty()) return target.kernel.image;
  return "/boot/vmlinuz-" + NextRelease(fs, target);
}

std::string NextInitrd(const FileSystem& fs, const BootTarget& target) {
  if (!target.kernel.initrd.empty()) return target.kernel.initrd;
  std::string initrd = "/boot/initrd.img-" + NextRelease(fs, target);
  return fs.Exists(initrd) ? initrd : "";
}

bool ChangesKernel(const FileSystem& fs, const BootTarget& target) {
  return !target.kernel.release.empty() && target.kernel.release != KernelRelease(fs);
}

absl::Status RunBootTool(CommandRunner* runner, std::vector<std::string> argv,
                         absl::Duration timeout) {
  CommandSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = timeout;
  auto r = runner->Run(spec);
  if (!r.ok()) return r.status();
  if (!r->ok()) return absl::InternalError(r->Describe(spec.argv[0]));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<BootConfigurator>> ChooseBootConfigurator(
    const std::vector<std::string>& methods, const BootTarget& target, FileSystem* fs,
    CommandRunner* runner, const BootMethodsConfig& config) {
  std::vector<std::string> refusals;
  for (const std::string& method : methods) {
    std::unique_ptr<BootConfigurator> c;
    if (config.simulate) {
      c = MakeSimBoot(fs, method, SimNodeSpec{config.sim_vendor, config.sim_caching_mode},
                      config.restart_argv);
    } else if (method == "grub") {
      c = MakeGrubBoot(fs, runner);
    } else if (method == "kexec") {
      c = MakeKexecBoot(fs, runner);
    } else if (method == "sysfs") {
      c = MakeSysfsBoot(fs, runner);
    } else {
      refusals.push_back(absl::StrCat(method, ": unknown method"));
      continue;
    }
    absl::Status can = c->CanReach(target);
    if (can.ok()) return c;
    refusals.push_back(std::string(can.message()));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "no switch method can reach this mode: ", absl::StrJoin(refusals, "; ")));
}

}  // namespace iommuvm::agent
