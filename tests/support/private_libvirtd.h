#pragma once
// A libvirtd of a test's own: started inside a network namespace (so the
// taps it creates for guests are where the agent's bridge is) and a mount
// namespace whose /etc/libvirt, /run/libvirt, /var/lib/libvirt,
// /var/log/libvirt and /var/cache/libvirt are directories under `dir`, so
// it shares nothing with a system libvirtd and several tests can each run
// one. Its QEMU runs as root without a security driver, as iommuvm's own
// QEMU backend does. Domains it still runs are destroyed on destruction.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/command_runner.h"

namespace iommuvm::testing {

class PrivateLibvirtd {
 public:
  // `in_netns`: the argv prefix that enters the namespace ("ip netns exec
  // NS"). FailedPrecondition when libvirtd is not installed.
  PrivateLibvirtd(const std::string& dir, const std::vector<std::string>& in_netns);
  ~PrivateLibvirtd();
  const absl::Status& status() const { return status_; }
  // The URI the agent's --libvirt_uri takes.
  std::string uri() const;
  // `virsh` against this daemon; its stdout, "" on error.
  std::string Virsh(const std::vector<std::string>& args) const;
  std::string Log() const;

 private:
  std::string dir_;
  std::unique_ptr<Process> daemon_;
  absl::Status status_;
};

}  // namespace iommuvm::testing
