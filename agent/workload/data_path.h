#pragma once
// The data-path check: a run counts only if its traffic crossed the NIC
// under test. The client's agent reads its data interface's byte counters
// (the interface that holds its --data_address) before and after the
// measured load and compares them with the bytes the generator says it
// moved: a generator pointed at an address on another interface (the
// control network, a second NIC) moves its bytes elsewhere, and the run
// fails with the counts instead of measuring the wrong path.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/file_system.h"

namespace iommuvm::agent {

// Share of the payload that must show on the data interface's counters
// (which also count headers, so a run on the right path reads > 100%).
constexpr double kDataPathMinShare = 0.95;

// The interface that holds IPv4 `address` in this network namespace
// (getifaddrs); nullopt when none does.
std::optional<std::string> InterfaceWithAddress(const std::string& address);

// Bytes an interface received and transmitted (/proc/net/dev).
struct InterfaceBytes {
  uint64_t rx = 0;
  uint64_t tx = 0;
  uint64_t total() const { return rx + tx; }
};
absl::StatusOr<InterfaceBytes> ReadInterfaceBytes(const FileSystem& files,
                                                  const std::string& interface);

// OK when at least kDataPathMinShare of `payload_bytes` crossed
// `interface` (`interface_bytes`, rx + tx during the run); otherwise
// FailedPrecondition with the counts: "only 12% of 4.1 GiB crossed eth1
// (0.5 GiB): is data_address on another interface?".
absl::Status CheckDataPath(const std::string& interface, uint64_t interface_bytes,
                           uint64_t payload_bytes);

// "4.3 GiB on eth1 for 4.1 GiB of payload (105%)": the evidence of a run.
std::string DescribeDataPath(const std::string& interface, uint64_t interface_bytes,
                             uint64_t payload_bytes);

}  // namespace iommuvm::agent
