#include "common/log.h"

#include <unistd.h>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace iommuvm {

namespace {
std::string& Prefix() {
  static std::string* prefix = new std::string();
  return *prefix;
}
}  // namespace

void SetLogPrefix(absl::string_view prefix) { Prefix() = std::string(prefix); }

void LogLine(absl::string_view component, absl::string_view message) {
  std::string line = absl::StrCat(
      Prefix(), absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ",
      component, ": ", message, "\n");
  // A single write keeps lines from concurrent threads whole.
  ssize_t unused = ::write(STDERR_FILENO, line.data(), line.size());
  (void)unused;
}

}  // namespace iommuvm
