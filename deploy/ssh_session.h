#pragma once
// One SSH connection to a node (libssh): host key checked against
// known_hosts, key authentication, commands through the remote shell with
// input streamed to them (how files are copied, as scp does).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct ssh_session_struct;

namespace iommuvm::deploy {

struct SshOptions {
  std::string host;
  int port = 22;
  std::string user;
  // Private key file; empty: the ssh-agent, then ~/.ssh/id_* (as ssh does).
  std::string identity_file;
  // Default ~/.ssh/known_hosts.
  std::string known_hosts;
  // First contact with a host not in known_hosts: record its key instead of
  // refusing. A key that differs from the recorded one is always refused.
  bool accept_new_host_keys = false;
  absl::Duration connect_timeout = absl::Seconds(15);
};

struct RemoteResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  bool ok() const { return exit_code == 0; }
};

class SshSession {
 public:
  // Connects, checks the host key and authenticates. Errors say which step
  // failed, with the host key's SHA256 fingerprint when it is the key.
  static absl::StatusOr<std::unique_ptr<SshSession>> Connect(const SshOptions& options);
  ~SshSession();

  // Runs `command` with the remote user's shell. `input` (may be null) is
  // called for the next chunk of stdin until it returns an empty string;
  // Unavailable when the connection drops or `timeout` passes.
  absl::StatusOr<RemoteResult> Run(const std::string& command,
                                   const std::function<std::string()>& input = nullptr,
                                   absl::Duration timeout = absl::Minutes(5));
  // Run() with `data` as the whole stdin.
  absl::StatusOr<RemoteResult> RunWithInput(const std::string& command, const std::string& data,
                                            absl::Duration timeout = absl::Minutes(5));

  // The server's host key fingerprint ("SHA256:...").
  const std::string& fingerprint() const { return fingerprint_; }

 private:
  SshSession() = default;
  ssh_session_struct* session_ = nullptr;
  std::string fingerprint_;
  std::string where_;  // user@host:port, for messages
};

}  // namespace iommuvm::deploy
