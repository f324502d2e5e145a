#pragma once
// The grub method: by default a drop-in under /etc/default/grub.d that owns the IOMMU
// mode tokens, update-grub, reboot. grub-mkconfig sources the drop-ins
// after /etc/default/grub, so the drop-in also wins over lines appended to
// that file later — CloudLab's slicefix appends its own
// GRUB_CMDLINE_LINUX — and it strips mode tokens from both
// GRUB_CMDLINE_LINUX and GRUB_CMDLINE_LINUX_DEFAULT (which the kernel line
// puts last, so a stale token there would otherwise win).

#include <memory>
#include <string>

#include "agent/node/boot_configurator.h"

namespace iommuvm::agent {

inline constexpr char kGrubDropIn[] = "/etc/default/grub.d/99-iommuvm.cfg";
// One-shot mode: Debian's 41_custom sources this file at boot, so the entry
// exists without update-grub; `grub-reboot iommuvm-next` boots it once.
inline constexpr char kGrubCustomCfg[] = "/boot/grub/custom.cfg";
inline constexpr char kGrubOneShotId[] = "iommuvm-next";

// custom.cfg with the one-shot `entry` as iommuvm's block (between
// marker lines), replacing an earlier block and keeping whatever else the
// file holds (a user's own entries).
std::string WithOneShotEntry(const std::string& custom_cfg, const std::string& entry);
// custom.cfg without iommuvm's block ("" when nothing else is left). A file
// from before the markers, which iommuvm wrote whole, is all iommuvm's.
std::string WithoutOneShotEntry(const std::string& custom_cfg);
// Whether custom.cfg holds an iommuvm one-shot entry.
bool HasOneShotEntry(const std::string& custom_cfg);

// The drop-in's text for `target` (shell, sourced by grub-mkconfig).
std::string GrubDropIn(const BootTarget& target);
// The one-shot menu entry: kernel and initrd as grub sees them (paths
// relative to the filesystem with UUID `boot_uuid`) with `cmdline`.
std::string GrubOneShotEntry(const std::string& boot_uuid, const std::string& kernel,
                             const std::string& initrd, const std::string& cmdline);

std::unique_ptr<BootConfigurator> MakeGrubBoot(FileSystem* fs, CommandRunner* runner);

}  // namespace iommuvm::agent
