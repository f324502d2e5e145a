#include "agent/workload/load_limits.h"

#include <sys/resource.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace iommuvm::agent {

double ChildCpuSeconds() {
  rusage u{};
  if (getrusage(RUSAGE_CHILDREN, &u) != 0) return 0;
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

std::optional<int64_t> LinkSpeedMbps(const FileSystem& files, const std::string& interface) {
  int64_t mbps = 0;
  std::string text = ReadTrimmed(files, absl::StrCat("/sys/class/net/", interface, "/speed"));
  if (!absl::SimpleAtoi(text, &mbps) || mbps <= 0) return std::nullopt;
  return mbps;
}

double GeneratorBusy(double cpu_seconds, double wall_seconds, uint32_t threads) {
  if (wall_seconds <= 0 || threads == 0) return 0;
  return std::clamp(cpu_seconds / (wall_seconds * threads), 0.0, 1.0);
}

double LinkUtilization(uint64_t rx_bytes, uint64_t tx_bytes, double wall_seconds,
                       int64_t speed_mbps) {
  if (wall_seconds <= 0 || speed_mbps <= 0) return 0;
  double bits_per_second = static_cast<double>(std::max(rx_bytes, tx_bytes)) * 8 / wall_seconds;
  return std::clamp(bits_per_second / (static_cast<double>(speed_mbps) * 1e6), 0.0, 1.0);
}

}  // namespace iommuvm::agent
