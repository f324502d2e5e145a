#pragma once
// A network interface's configuration that unbinding its device loses: the
// MTU, the addresses and the routes through a gateway, as `ip` shows them
// (iproute2's and busybox's output alike). The sysfs switch snapshots the
// data NIC's before it unbinds the NIC's IOMMU group and puts them back
// once the driver has made the interface again; connected routes come
// back with the addresses, link-local IPv6 addresses with the link.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/command_runner.h"
#include "common/file_system.h"

namespace iommuvm::agent {

struct NicAddresses {
  std::string name;
  int mtu = 0;
  bool up = false;
  std::vector<std::string> addresses;  // "10.1.2.2/24", "fd00::2/64"
  std::vector<std::string> routes;     // "default via 10.1.2.1", "10.9.0.0/16 via 10.1.2.1"
};

// Parses `ip addr show dev NAME` and `ip route show dev NAME` (+ `ip -6
// route`) output.
NicAddresses ParseNicAddresses(const std::string& name, const std::string& addr_output,
                               const std::string& route_output);

// Reads `name`'s configuration with `ip`.
absl::StatusOr<NicAddresses> SnapshotNic(CommandRunner* runner, const std::string& name);

// Waits (up to `wait`) for the interface to exist again in `sysroot`'s
// /sys/class/net, then sets its MTU, addresses, link state and routes.
absl::Status RestoreNic(CommandRunner* runner, const FileSystem& sysroot, const NicAddresses& nic,
                        absl::Duration wait);

}  // namespace iommuvm::agent
