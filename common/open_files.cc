#include "common/open_files.h"

#include <sys/resource.h>

#include <filesystem>
#include <system_error>

namespace iommuvm {

OpenFilesLimit RaiseOpenFilesLimit() {
  OpenFilesLimit out;
  struct rlimit files;
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    out.before = out.now = files.rlim_cur;
    if (files.rlim_cur < files.rlim_max) {
      files.rlim_cur = files.rlim_max;
      if (::setrlimit(RLIMIT_NOFILE, &files) == 0) out.now = files.rlim_max;
    }
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++out.in_use;
  }
  return out;
}

uint64_t AgentCapacity(const OpenFilesLimit& limit, uint64_t headroom) {
  uint64_t taken = limit.in_use + headroom;
  return limit.now > taken ? limit.now - taken : 0;
}

}  // namespace iommuvm
