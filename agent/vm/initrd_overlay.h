#pragma once
// Files added to a guest's initramfs without rebuilding it: a small
// uncompressed cpio (newc) archive put in front of the image's own, which
// the kernel unpacks one after the other (as early microcode is loaded).
// How a guest gets its host's TLS certificate for a run.

#include <string>
#include <vector>

namespace iommuvm::agent {

struct InitrdFile {
  std::string path;  // inside the guest, absolute ("/etc/iommuvm/tls/ca.crt")
  std::string content;
  unsigned mode = 0644;
};

// The files (and their parent directories) as a newc cpio archive with its
// trailer, padded to a multiple of 4 bytes.
std::string CpioArchive(const std::vector<InitrdFile>& files);

}  // namespace iommuvm::agent
