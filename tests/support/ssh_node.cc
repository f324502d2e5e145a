#include "tests/support/ssh_node.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/workload/tcp_probe.h"
#include "common/file_system.h"

namespace iommuvm::testing {
namespace {

absl::Status Run(LocalCommandRunner& runner, std::vector<std::string> argv) {
  CommandSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = absl::Seconds(30);
  auto r = runner.Run(spec);
  if (!r.ok()) return r.status();
  if (!r->ok()) return absl::InternalError(r->Describe(spec.argv[0]));
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> SshArgv(const std::string& key, const std::string& host, int port,
                                 const std::string& command) {
  return {"ssh",
          "-i",
          key,
          "-p",
          absl::StrCat(port),
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          "UserKnownHostsFile=/dev/null",
          "-o",
          "LogLevel=ERROR",
          "-o",
          "ConnectTimeout=5",
          "-o",
          "BatchMode=yes",
          absl::StrCat("root@", host),
          command};
}

absl::Status WaitForSshBanner(int port, Process* server, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (!server->Running()) return absl::AbortedError("the server ended");
    if (agent::TcpExchange("127.0.0.1", static_cast<uint32_t>(port), "", absl::Seconds(1)).ok()) {
      return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError("no banner");
}

SshNode::SshNode(std::string dir, std::string name)
    : dir_(std::move(dir)), name_(std::move(name)) {}

SshNode::~SshNode() { Stop(); }

std::string SshNode::log() const {
  LocalFileSystem fs;
  return fs.ReadFile(dir_ + "/" + name_ + "/sshd.log").value_or("");
}

absl::Status SshNode::Start() {
  for (const char* tool : {"/usr/sbin/sshd", "ssh-keygen"}) {
    if (!runner_.Which(tool).ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(tool, " is not installed (openssh-server; scripts/setup installs it)"));
    }
  }
  LocalFileSystem fs;
  std::string home = dir_ + "/" + name_;
  if (auto s = fs.MakeDirs(root()); !s.ok()) return s;
  (void)fs.MakeDirs("/run/sshd");  // sshd's privilege separation directory
  for (const std::string& key : {ClientKey(dir_), StrangerKey(dir_), host_key()}) {
    if (fs.Exists(key)) continue;
    if (auto s = Run(runner_, {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "iommuvm-test",
                               "-f", key});
        !s.ok()) {
      return s;
    }
  }
  std::string authorized = dir_ + "/authorized_keys";
  if (!fs.Exists(authorized)) {
    if (auto s = fs.WriteFile(authorized, *fs.ReadFile(ClientKey(dir_) + ".pub")); !s.ok())
      return s;
  }
  if (port_ == 0) {  // a restarted node keeps its port
    auto port = agent::PickFreePort("127.0.0.1");
    if (!port.ok()) return port.status();
    port_ = static_cast<int>(*port);
  }
  std::string config = absl::StrCat(
      "Port ", port_, "\nListenAddress 127.0.0.1\nHostKey ", host_key(), "\nPidFile ", home,
      "/sshd.pid\nAuthorizedKeysFile ", authorized,
      "\nStrictModes no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
      "KbdInteractiveAuthentication no\nUsePAM no\nSubsystem sftp internal-sftp\n"
      "LogLevel VERBOSE\n");
  if (auto s = fs.WriteFile(home + "/sshd_config", config); !s.ok()) return s;
  CommandSpec spec;
  spec.argv = {"/usr/sbin/sshd", "-D", "-e", "-f", home + "/sshd_config"};
  spec.log_path = home + "/sshd.log";
  auto p = runner_.Start(spec);
  if (!p.ok()) return p.status();
  sshd_ = std::move(*p);
  absl::Status up = WaitForSshBanner(port_, sshd_.get(), absl::Seconds(10));
  if (!up.ok()) return absl::UnavailableError(absl::StrCat("sshd did not listen: ", log()));
  return absl::OkStatus();
}

void SshNode::Stop() { sshd_.reset(); }

void SshNode::DropConnections() {
  if (sshd_ == nullptr) return;
  (void)Run(runner_, {"pkill", "-KILL", "-P", absl::StrCat(sshd_->pid())});
}

}  // namespace iommuvm::testing
