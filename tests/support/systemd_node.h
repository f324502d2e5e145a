#pragma once
// A node that boots a real systemd: Debian 12 (scripts/systemd-node-image)
// in a systemd-nspawn container on the host's network, its writes on a
// tmpfs overlay (nothing persists), sshd on a loopback port of its own with
// root's login by the test's key. `iommuvm deploy` installs the agent's
// systemd service there as on a testbed node.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/command_runner.h"

namespace iommuvm::testing {

class SystemdNode {
 public:
  // `image`: the root file system; `dir`: the test's scratch directory;
  // `client_key`: the private key whose public half root accepts.
  SystemdNode(std::string image, std::string dir, std::string client_key);
  ~SystemdNode();
  // FailedPrecondition (skip) when the image or systemd-nspawn is missing
  // or the container cannot boot here; sshd answering means booted.
  absl::Status Start();
  int port() const { return port_; }
  // Runs `command` on the node over SSH.
  CommandResult Ssh(const std::string& command);
  std::string log() const;

 private:
  std::string image_;
  std::string dir_;
  std::string key_;
  std::string name_;
  int port_ = 0;
  LocalCommandRunner runner_;
  std::unique_ptr<Process> nspawn_;
};

}  // namespace iommuvm::testing
