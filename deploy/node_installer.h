#pragma once
// Installs the bundle and the agent's service on one node over SSH, and
// takes them off again. Atomic where it matters: a bundle is unpacked
// beside the release in use and switched to with one rename, so a dropped
// connection or a full disk leaves the node as it was (the previous release
// intact), and a rerun finishes the job.
//
// On the node (below its root, "/" unless the inventory says otherwise):
//   /opt/iommuvm/releases/<release>/   one unpacked bundle per release
//   /opt/iommuvm/current               -> releases/<release>, the one in use
//   /opt/iommuvm/tls/                  ca.crt, agent-<id>.crt/.key (0600)
//   /etc/systemd/system/iommuvm-agent.service, /etc/default/iommuvm-agent
//   /var/lib/iommuvm-agent/            the agent's state (kept by undeploy
//                                      unless purged: it may hold results)
// Without systemd (containers, or another root) the agent is started
// directly, its pid in /run/iommuvm-agent.pid and its log in
// /var/log/iommuvm-agent.log, and is not restarted at boot.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deploy/deploy_node.h"
#include "deploy/ssh_session.h"
#include "tls/credentials.h"

namespace iommuvm::deploy {

// The bundle from scripts/bundle, identified by its content.
struct Bundle {
  std::string path;
  std::string sha256;
  uint64_t size = 0;
  std::string release;  // the sha256's first 12 hex digits
  std::string top;      // the directory it unpacks to ("iommuvm-0.1.0-linux-x86_64")
  // share/files.sha256: each file's SHA-256 by its path below `top`.
  std::map<std::string, std::string> files;
};
absl::StatusOr<Bundle> OpenBundle(const std::string& path);
// "HASH  path" lines (sha256sum's output) as path -> hash.
std::map<std::string, std::string> ParseFileHashes(const std::string& text);

struct InstallOptions {
  std::string controller_address;  // what the agents dial
  SshOptions ssh;                  // known_hosts, accept_new_host_keys (host/user per node)
  // The agent's CA file and pair (copied to the node); none: plaintext.
  std::optional<tls::TlsFiles> tls;
};

struct InstallOutcome {
  // What was sent: "all 89 files (14.0 MB)" or "3 of 89 files (2.1 MB)";
  // empty when the release was there already.
  std::string sent;
  bool restarted = false;  // the agent was (re)started
  std::string release;
};

// The iommuvm-agent flags the node's service gets (`with_guest`: the
// bundle carries the guest image, guest/); InvalidArgument names a value
// that cannot be one shell word (spaces, quotes, '$').
absl::StatusOr<std::vector<std::string>> AgentArgs(const DeployNode& node,
                                                   const std::string& controller_address,
                                                   const std::string& release, bool tls,
                                                   bool with_guest = false);

class NodeInstaller {
 public:
  using StatusFn = std::function<void(const std::string&)>;
  NodeInstaller(DeployNode node, InstallOptions options, StatusFn status)
      : node_(std::move(node)), options_(std::move(options)), status_(std::move(status)) {}

  // Installs `bundle` and (re)starts the agent if anything changed or it is
  // not running; `before_restart` is called first (waits while the agent
  // runs an attempt: an agent is restarted between runs, never during one).
  absl::StatusOr<InstallOutcome> Install(const Bundle& bundle,
                                         const std::function<absl::Status()>& before_restart);
  // Stops the agent, undoes its boot configuration and VFIO bindings
  // (iommuvm-agent restore-node), removes the service and /opt/iommuvm;
  // with `purge` also the agent's state. Returns restore-node's lines.
  absl::StatusOr<std::vector<std::string>> Uninstall(bool purge);

 private:
  absl::Status Connect();
  // The command that runs `script` with sh -eu as root (through sudo -n
  // when the login is not root).
  std::string RootShell(const std::string& script) const;
  // Runs RootShell(script).
  absl::StatusOr<RemoteResult> RunScript(const std::string& script,
                                         absl::Duration timeout = absl::Minutes(2));
  // Writes `content` to `path` on the node (mode `mode`) unless it is the
  // same; true when it changed.
  absl::StatusOr<bool> PutFile(const std::string& path, const std::string& content,
                               const std::string& mode);
  // Sends the whole bundle and unpacks it as releases/<release>.
  absl::Status CopyWhole(const Bundle& bundle, InstallOutcome* outcome);
  // Sends only the files the release in use lacks or has otherwise
  // (`remote_manifest`: its share/files.sha256), unpacked over a copy of it.
  absl::Status CopyChanged(const Bundle& bundle, const std::string& remote_manifest,
                           InstallOutcome* outcome);
  // Streams the local file `path` into `command`'s stdin with copy progress.
  absl::StatusOr<RemoteResult> Stream(const std::string& path, const std::string& command);
  // Paths below the node's root.
  std::string At(const std::string& path) const;
  bool Systemd() const { return systemd_ && node_.root == "/"; }

  DeployNode node_;
  InstallOptions options_;
  StatusFn status_;
  std::unique_ptr<SshSession> ssh_;
  std::string sudo_;  // "sudo -n " unless the login is root
  bool systemd_ = false;
};

}  // namespace iommuvm::deploy
