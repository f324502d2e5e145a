#pragma once
// The sysfs method: change the data-plane NIC's IOMMU group type in place.
// The kernel only lets a group's default domain change while no driver is
// bound to any of its devices: unbind every device of the group, write
// identity / DMA-FQ / DMA to the group's `type`, bind them back to the
// drivers they had, put the NICs' addresses and routes back, read the
// type back. Never for `off` (that needs a
// reboot), needs kernel 5.11 (DMA-FQ: 5.15) and an IOMMU that is on.

#include <memory>
#include <string>

#include "agent/node/boot_configurator.h"

namespace iommuvm::agent {

// "identity", "DMA-FQ", "DMA" ("" for off/unspecified).
std::string GroupTypeFor(v1::IommuMode mode);

// `runner` runs `ip`: the group's NICs get back the addresses, MTU and
// routes they had before the unbind (nic_addresses.h).
std::unique_ptr<BootConfigurator> MakeSysfsBoot(FileSystem* fs, CommandRunner* runner);

}  // namespace iommuvm::agent
