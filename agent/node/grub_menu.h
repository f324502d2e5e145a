#pragma once
// Reading grub.cfg as grub-mkconfig writes it (10_linux of grub 2.04 to
// 2.12: Ubuntu 20.04 to 24.04, Debian 11 and 12): which menu entry boots a
// given kernel image, as the path GRUB_DEFAULT takes ("submenu>entry",
// by id where the entry has one, else by title).

#include <string>

namespace iommuvm::agent {

inline constexpr char kGrubCfg[] = "/boot/grub/grub.cfg";

// The entry of `grub_cfg` whose `linux` line loads an image named
// `image_basename` ("vmlinuz-6.12.9-fns"), recovery entries skipped; ""
// when there is none.
std::string GrubEntryFor(const std::string& grub_cfg, const std::string& image_basename);

}  // namespace iommuvm::agent
