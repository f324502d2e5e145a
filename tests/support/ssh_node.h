#pragma once
// A real sshd on loopback standing in for a testbed node in deploy tests:
// its own host key and port, root's login by a key made for the test, and
// its own root directory for what `iommuvm deploy` installs (inventory
// `root:`). Keys and config live in the test's scratch directory
// (StrictModes no, so they may sit under /tmp).

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/command_runner.h"

namespace iommuvm::testing {

// Polls until the sshd on 127.0.0.1:`port` sends its banner (sshd greets
// first): OK; Aborted when `server` ends first; DeadlineExceeded after
// `timeout`.
absl::Status WaitForSshBanner(int port, Process* server, absl::Duration timeout);

// `ssh` running `command` as root on host:port with `key`, for throwaway
// test nodes (their host keys are not recorded; no prompts).
std::vector<std::string> SshArgv(const std::string& key, const std::string& host, int port,
                                 const std::string& command);

class SshNode {
 public:
  // `dir`: the test's scratch dir (shared client key and known_hosts go
  // there); `name`: this node's subdirectory.
  SshNode(std::string dir, std::string name);
  ~SshNode();
  // Generates keys (once) and starts sshd; FailedPrecondition when sshd or
  // ssh-keygen is not installed.
  absl::Status Start();
  void Stop();
  // Kills every connection's sshd (the listener stays): a dropped link.
  void DropConnections();

  int port() const { return port_; }
  const std::string& name() const { return name_; }
  std::string root() const { return dir_ + "/" + name_ + "/root"; }
  std::string host_key() const { return dir_ + "/" + name_ + "/ssh_host_ed25519_key"; }
  std::string log() const;
  // The client key authorized on every node of `dir`, and a key that is not.
  static std::string ClientKey(const std::string& dir) { return dir + "/client_key"; }
  static std::string StrangerKey(const std::string& dir) { return dir + "/stranger_key"; }

 private:
  std::string dir_;
  std::string name_;
  int port_ = 0;
  LocalCommandRunner runner_;
  std::unique_ptr<Process> sshd_;
};

}  // namespace iommuvm::testing
