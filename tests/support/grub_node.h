#pragma once
// A testbed node that boots the way a CloudLab machine does: QEMU's own
// firmware (SeaBIOS), GRUB from the disk's MBR, Debian's kernel, initramfs
// and systemd, with an emulated VT-d. Its disk is a copy-on-write overlay of
// the image scripts/grub-node-image builds (Debian 12 with grub-pc, sshd and
// CloudLab's slicefix block in /etc/default/grub), so every reboot goes
// through the real update-grub / grub-reboot configuration. Root logs in
// over SSH on a forwarded port of the sut namespace's control address; the
// data NIC sits behind the vIOMMU on a tap of the topology's guest bridge.
// A reboot of the guest ends QEMU (-no-reboot) and the node starts it again
// on the same disk, as a machine's firmware starts over: under TCG, a guest
// rebooting inside one QEMU boots slower each time (48 s, then 87-117 s by
// the fourth). Stopped (QEMU killed, tap removed) on destruction.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/command_runner.h"
#include "tests/support/topology.h"

namespace iommuvm::testing {

inline constexpr char kGrubNodeDataMac[] = "52:54:00:1e:00:01";

class GrubNode {
 public:
  // scripts/grub-node-image's default output.
  static std::string DefaultImageDir();

  // `image_dir`: the image (disk.img, id_ed25519, recipe); `dir`: the
  // test's scratch directory for the overlay, the console and QEMU's log.
  GrubNode(const Topology& net, std::string image_dir, std::string dir);
  ~GrubNode();
  // FailedPrecondition (skip) when the image is not built.
  absl::Status Start();
  // Polls SSH until the node answers (a boot through firmware and GRUB).
  absl::Status WaitForSsh(absl::Duration timeout);
  CommandResult Ssh(const std::string& command, absl::Duration timeout = absl::Seconds(60));

  std::string host() const { return net_.sut_control_address(); }
  int port() const { return port_; }
  std::string key() const { return image_dir_ + "/id_ed25519"; }
  std::string ConsolePath() const { return dir_ + "/console.log"; }
  std::string Console() const;

 private:
  const Topology& net_;
  std::string image_dir_;
  std::string dir_;
  // Starts QEMU with argv_; restarts it each time it ends, until stopping_.
  absl::Status Launch();
  void Supervise();

  std::string tap_;
  int port_ = 0;
  LocalCommandRunner runner_;
  std::vector<std::string> argv_;
  std::mutex mu_;
  std::unique_ptr<Process> qemu_;
  int boots_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread supervisor_;
};

}  // namespace iommuvm::testing
