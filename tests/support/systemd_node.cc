#include "tests/support/systemd_node.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "agent/workload/tcp_probe.h"
#include "common/file_system.h"
#include "tests/support/ssh_node.h"

namespace iommuvm::testing {

SystemdNode::SystemdNode(std::string image, std::string dir, std::string client_key)
    : image_(std::move(image)), dir_(std::move(dir)), key_(std::move(client_key)) {
  name_ = absl::StrCat("iommuvm-node-", ::getpid() % 100000);
}

SystemdNode::~SystemdNode() {
  if (nspawn_ != nullptr) nspawn_->Stop(absl::Seconds(10));  // a clean shutdown of the container
}

std::string SystemdNode::log() const {
  return LocalFileSystem().ReadFile(dir_ + "/nspawn.log").value_or("");
}

absl::Status SystemdNode::Start() {
  LocalFileSystem fs;
  if (!fs.Exists(image_ + "/lib/systemd/systemd")) {
    return absl::FailedPreconditionError(
        absl::StrCat("no systemd node image at ", image_, " (scripts/systemd-node-image)"));
  }
  if (!runner_.Which("systemd-nspawn").ok()) {
    return absl::FailedPreconditionError("systemd-nspawn is not installed (systemd-container)");
  }
  auto port = agent::PickFreePort("127.0.0.1");
  if (!port.ok()) return port.status();
  port_ = static_cast<int>(*port);
  std::string sshd = dir_ + "/sshd-node.conf";
  if (auto s = fs.WriteFile(sshd, absl::StrCat("Port ", port_,
                                               "\nListenAddress 127.0.0.1\n"
                                               "PermitRootLogin prohibit-password\n"));
      !s.ok()) {
    return s;
  }
  auto pub = fs.ReadFile(key_ + ".pub");
  if (!pub.ok()) return pub.status();
  std::string authorized = dir_ + "/node_authorized_keys";
  if (auto s = fs.WriteFile(authorized, *pub); !s.ok()) return s;
  CommandSpec spec;
  spec.argv = {"systemd-nspawn",
               "-D",
               image_,
               "-b",
               "-M",
               name_,
               "--register=no",
               "--keep-unit",
               "--volatile=overlay",
               absl::StrCat("--bind-ro=", sshd, ":/etc/ssh/sshd_config.d/iommuvm-test.conf"),
               absl::StrCat("--bind-ro=", authorized, ":/root/.ssh/authorized_keys")};
  spec.log_path = dir_ + "/nspawn.log";
  auto p = runner_.Start(spec);
  if (!p.ok()) return p.status();
  nspawn_ = std::move(*p);
  absl::Status up = WaitForSshBanner(port_, nspawn_.get(), absl::Seconds(60));
  if (absl::IsAborted(up)) {
    return absl::FailedPreconditionError(
        absl::StrCat("systemd-nspawn cannot boot a container here: ", log()));
  }
  if (!up.ok())
    return absl::UnavailableError(absl::StrCat("the node's sshd did not answer: ", log()));
  return absl::OkStatus();
}

CommandResult SystemdNode::Ssh(const std::string& command) {
  CommandSpec spec;
  spec.argv = SshArgv(key_, "127.0.0.1", port_, command);
  spec.timeout = absl::Seconds(60);
  return runner_.Run(spec).value_or(CommandResult{});
}

}  // namespace iommuvm::testing
