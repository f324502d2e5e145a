#pragma once
// The two-host layout on one machine: network namespaces "<name>-sut"
// (server under test) and "<name>-cli" (load generator) joined by a veth
// pair — the data plane, 10.<net>.1.1 and 10.<net>.1.2 — and each linked to
// a bridge in the root namespace (10.<net>.0.1) where the controller
// listens: the control plane. Nothing leaves the machine. Removed on
// destruction. Later fault tests cut and restore links with SetLink.
// What a killed test left behind is never reused: <name> gets a letter
// after it if its namespaces or bridge exist, and <net> is a subnet no
// address or route of the root namespace has.

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace iommuvm::testing {

class Topology {
 public:
  // Builds it; check ok() (needs root and iproute2).
  explicit Topology(const std::string& name);
  ~Topology();
  const absl::Status& status() const { return status_; }

  std::string controller_host() const { return prefix_ + "0.1"; }
  std::string sut_address() const { return prefix_ + "1.1"; }
  std::string client_address() const { return prefix_ + "1.2"; }
  // The sut's and the client's addresses on the control plane.
  std::string sut_control_address() const { return prefix_ + "0.2"; }
  std::string sut_ns() const { return name_ + "-sut"; }
  std::string client_ns() const { return name_ + "-cli"; }
  // The data-plane interface in the sut namespace.
  std::string sut_data_if() const { return name_ + "-d0"; }
  std::string client_data_if() const { return name_ + "-d1"; }
  // "ip netns exec <ns>", to start a program inside a namespace.
  std::vector<std::string> In(const std::string& ns) const;
  // A counter of an interface inside a namespace (e.g. "rx_bytes"); -1 on error.
  int64_t Counter(const std::string& ns, const std::string& iface, const std::string& name) const;
  // VM runs: a bridge in the sut namespace (10.<net>.2.1/24) for the
  // guests' taps, the sut forwarding between it and the data plane, and
  // the client routing the guests' subnet through the sut.
  absl::Status AddGuestBridge();
  std::string guest_bridge() const { return name_ + "-vb"; }
  std::string guest_gateway() const { return prefix_ + "2.1"; }
  std::string guest_address() const { return prefix_ + "2.2"; }
  // A tap on the guests' bridge for one QEMU guest's data NIC; removed by
  // RemoveGuestTap (or with the namespace).
  absl::Status AddGuestTap(const std::string& tap) const;
  void RemoveGuestTap(const std::string& tap) const;
  // Takes the data-plane link down, or up again with fresh neighbour
  // caches on both sides (for fault tests).
  absl::Status SetDataLink(bool up);

 private:
  absl::Status Run(const std::vector<std::string>& argv) const;
  std::string name_;
  std::string prefix_;  // "10.<net>."
  absl::Status status_;
};

}  // namespace iommuvm::testing
