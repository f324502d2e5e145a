#include "agent/vm/initrd_overlay.h"

#include <set>

#include "absl/strings/str_format.h"

namespace iommuvm::agent {
namespace {

// One newc entry: the 110-byte header, the NUL-terminated name padded to 4,
// the data padded to 4 (linux/usr/gen_init_cpio.c writes the same).
void Entry(std::string* out, unsigned ino, unsigned mode, const std::string& name,
           const std::string& data) {
  absl::StrAppendFormat(out, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino,
                        mode, 0, 0, (mode & 0170000) == 0040000 ? 2 : 1, 0,
                        static_cast<unsigned>(data.size()), 0, 0, 0, 0,
                        static_cast<unsigned>(name.size() + 1), 0);
  out->append(name);
  out->push_back('\0');
  while (out->size() % 4 != 0) out->push_back('\0');
  out->append(data);
  while (out->size() % 4 != 0) out->push_back('\0');
}

}  // namespace

std::string CpioArchive(const std::vector<InitrdFile>& files) {
  std::string out;
  unsigned ino = 1;
  std::set<std::string> dirs;
  for (const InitrdFile& f : files) {
    // Parents first ("etc", "etc/iommuvm", ...); names have no leading '/'.
    std::string rel = f.path.substr(f.path.find_first_not_of('/'));
    for (size_t slash = rel.find('/'); slash != std::string::npos;
         slash = rel.find('/', slash + 1)) {
      std::string dir = rel.substr(0, slash);
      if (dirs.insert(dir).second) Entry(&out, ino++, 0040755, dir, "");
    }
    Entry(&out, ino++, 0100000 | (f.mode & 07777), rel, f.content);
  }
  Entry(&out, 0, 0, "TRAILER!!!", "");
  return out;
}

}  // namespace iommuvm::agent
