#include "agent/workload/data_path.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "agent/telemetry/network_collector.h"
#include "common/units.h"

namespace iommuvm::agent {
namespace {

std::string Percent(uint64_t part, uint64_t whole) {
  return absl::StrCat(std::lround(100.0 * static_cast<double>(part) /
                                  static_cast<double>(std::max<uint64_t>(whole, 1))),
                      "%");
}

}  // namespace

std::optional<std::string> InterfaceWithAddress(const std::string& address) {
  in_addr wanted{};
  if (inet_pton(AF_INET, address.c_str(), &wanted) != 1) return std::nullopt;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return std::nullopt;
  std::optional<std::string> found;
  for (ifaddrs* a = list; a != nullptr && !found; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    if (reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr == wanted.s_addr) {
      found = a->ifa_name;
    }
  }
  freeifaddrs(list);
  return found;
}

absl::StatusOr<InterfaceBytes> ReadInterfaceBytes(const FileSystem& files,
                                                  const std::string& interface) {
  auto text = files.ReadFile("/proc/net/dev");
  if (!text.ok()) return text.status();
  auto counters = NetworkCollector::Parse(*text);
  if (!counters.ok()) return counters.status();
  auto it = counters->find(interface);
  if (it == counters->end()) {
    return absl::NotFoundError(absl::StrCat("no interface ", interface, " in /proc/net/dev"));
  }
  return InterfaceBytes{it->second[0], it->second[3]};
}

std::string DescribeDataPath(const std::string& interface, uint64_t interface_bytes,
                             uint64_t payload_bytes) {
  return absl::StrCat(HumanBytes(interface_bytes), " on ", interface, " for ",
                      HumanBytes(payload_bytes), " of payload (",
                      Percent(interface_bytes, payload_bytes), ")");
}

absl::Status CheckDataPath(const std::string& interface, uint64_t interface_bytes,
                           uint64_t payload_bytes) {
  if (payload_bytes == 0 || static_cast<double>(interface_bytes) >=
                                kDataPathMinShare * static_cast<double>(payload_bytes)) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "only ", Percent(interface_bytes, payload_bytes), " of ", HumanBytes(payload_bytes),
      " crossed ", interface, " (", HumanBytes(interface_bytes),
      " counted there): is data_address on another interface? The load must cross the NIC "
      "under test"));
}

}  // namespace iommuvm::agent
