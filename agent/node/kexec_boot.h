#pragma once
// The kexec method: load the running kernel and its initrd (or, on the
// kernel axis, the target kernel's image and initrd) with the new
// command line (the current one with the IOMMU mode tokens replaced,
// nothing else lost) and kexec into it, skipping firmware POST — minutes
// saved per switch on r650. `systemctl kexec` shuts services down cleanly
// first; without systemd, `kexec -e`.

#include <memory>

#include "agent/node/boot_configurator.h"

namespace iommuvm::agent {

std::unique_ptr<BootConfigurator> MakeKexecBoot(FileSystem* fs, CommandRunner* runner);

}  // namespace iommuvm::agent
