#include "agent/node/node_restore.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/node/boot_configurator.h"
#include "agent/node/grub_boot.h"
#include "agent/node/vfio.h"
#include "agent/paths.h"

namespace iommuvm::agent {
namespace {

absl::Status RunTool(CommandRunner* runner, std::vector<std::string> argv) {
  return RunBootTool(runner, std::move(argv), absl::Minutes(3));
}

}  // namespace

absl::StatusOr<std::vector<std::string>> RestoreNode(FileSystem* sysroot, FileSystem* host,
                                                     CommandRunner* runner,
                                                     const RestoreOptions& options) {
  std::vector<std::string> done;
  bool grub_changed = false;
  if (sysroot->Exists(kGrubDropIn)) {
    if (auto s = sysroot->RemoveAll(kGrubDropIn); !s.ok()) return s;
    done.push_back(absl::StrCat("removed the grub drop-in ", kGrubDropIn));
    grub_changed = true;
  }
  // Only iommuvm's block of custom.cfg goes; a user's own entries stay.
  std::string custom = sysroot->ReadFile(kGrubCustomCfg).value_or("");
  if (HasOneShotEntry(custom)) {
    std::string rest = WithoutOneShotEntry(custom);
    absl::Status s = rest.empty() ? sysroot->RemoveAll(kGrubCustomCfg)
                                  : sysroot->WriteFile(kGrubCustomCfg, rest);
    if (!s.ok()) return s;
    done.push_back(absl::StrCat("removed the one-shot grub entry from ", kGrubCustomCfg));
    if (options.run_boot_tools && runner->Which("grub-editenv").ok()) {
      if (auto s = RunTool(runner, {"grub-editenv", "-", "unset", "next_entry"}); !s.ok()) return s;
      done.push_back("cleared grub's next_entry");
    }
  }
  if (grub_changed) {
    if (options.run_boot_tools && runner->Which("update-grub").ok()) {
      if (auto s = RunTool(runner, {"update-grub"}); !s.ok()) return s;
      done.push_back("ran update-grub: the next boot uses the original command line");
    } else if (!options.run_boot_tools) {
      done.push_back("not running update-grub for another root (run it there)");
    }
  }
  if (options.run_boot_tools && runner->Which("kexec").ok()) {
    // Unloading when nothing is staged is harmless.
    if (RunTool(runner, {"kexec", "-u"}).ok()) done.push_back("unloaded any staged kexec kernel");
  }
  std::string pending = PendingSwitchPath(options.state_dir);
  if (host->Exists(pending)) {
    (void)host->RemoveAll(pending);
    done.push_back("dropped the pending switch record");
  }
  Vfio vfio(sysroot, host, options.state_dir, "");
  for (const VfioBinding& b : vfio.RestoreLeftovers()) {
    done.push_back(absl::StrCat("gave ", b.bdf, " back to ",
                                b.original_driver.empty() ? "no driver" : b.original_driver));
  }
  for (const std::string& pf : vfio.DisableLeftoverVfs()) {
    done.push_back(absl::StrCat("disabled the VFs of ", pf));
  }
  return done;
}

}  // namespace iommuvm::agent
