#pragma once
// The grub method: a drop-in under /etc/default/grub.d that owns the IOMMU
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

// The drop-in's text for `target` (shell, sourced by grub-mkconfig).
std::string GrubDropIn(const BootTarget& target);

std::unique_ptr<BootConfigurator> MakeGrubBoot(FileSystem* fs, CommandRunner* runner);

}  // namespace iommuvm::agent
