#include "tests/support/grub_node.h"

#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/workload/tcp_probe.h"
#include "common/file_system.h"
#include "tests/support/ssh_node.h"

namespace iommuvm::testing {

std::string GrubNode::DefaultImageDir() {
  const char* cache = std::getenv("IOMMUVM_CACHE");
  return absl::StrCat(cache != nullptr && *cache != '\0' ? cache : "/var/cache/iommuvm",
                      "/grub-node");
}

GrubNode::GrubNode(const Topology& net, std::string image_dir, std::string dir)
    : net_(net),
      image_dir_(std::move(image_dir)),
      dir_(std::move(dir)),
      tap_(absl::StrCat("ivg", ::getpid() % 100000)) {}

GrubNode::~GrubNode() {
  stopping_ = true;
  if (supervisor_.joinable()) supervisor_.join();
  if (qemu_ != nullptr) qemu_->Stop(absl::Seconds(2));
  net_.RemoveGuestTap(tap_);
}

std::string GrubNode::Console() const {
  return LocalFileSystem().ReadFile(ConsolePath()).value_or("");
}

absl::Status GrubNode::Start() {
  LocalFileSystem fs;
  if (!fs.Exists(image_dir_ + "/recipe") || !fs.Exists(image_dir_ + "/disk.img")) {
    return absl::FailedPreconditionError(
        absl::StrCat("no grub node image in ", image_dir_, " (scripts/grub-node-image builds it)"));
  }
  if (auto s = fs.MakeDirs(dir_); !s.ok()) return s;
  // The forwarded port lives in the sut namespace, where nothing else
  // listens: any port free here will do.
  auto port = agent::PickFreePort("127.0.0.1");
  if (!port.ok()) return port.status();
  port_ = static_cast<int>(*port);
  std::string overlay = dir_ + "/disk.qcow2";
  CommandSpec create;
  create.argv = {
      "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", image_dir_ + "/disk.img",
      overlay};
  auto created = runner_.Run(create);
  if (!created.ok()) return created.status();
  if (!created->ok()) return absl::InternalError(created->Describe("qemu-img"));
  if (absl::Status s = net_.AddGuestTap(tap_); !s.ok()) return s;
  // No caching mode: with it, VT-d drivers disallow batching ("IOMMU
  // batching disallowed due to virtualization") and every domain is strict,
  // so lazy could not be booted. QEMU runs in the sut namespace (where the tap is); its user
  // network reaches the controller from there, and forwards SSH from the sut's control address.
  argv_ = net_.In(net_.sut_ns());
  argv_.insert(
      argv_.end(),
      {"qemu-system-x86_64",
       "-machine",
       "q35,kernel-irqchip=split",
       "-accel",
       "tcg",
       "-cpu",
       "max,vendor=GenuineIntel",
       "-m",
       "1024",
       "-smp",
       "1",
       "-device",
       "intel-iommu,intremap=on,caching-mode=off,device-iotlb=on",
       "-drive",
       absl::StrCat("file=", overlay, ",if=virtio"),
       "-device",
       "pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1",
       "-netdev",
       absl::StrCat("tap,id=data,ifname=", tap_, ",script=no,downscript=no"),
       "-device",
       absl::StrCat("virtio-net-pci,netdev=data,bus=rp1,disable-legacy=on,iommu_platform=on,"
                    "ats=on,mac=",
                    kGrubNodeDataMac),
       "-netdev",
       absl::StrCat("user,id=ctl,hostfwd=tcp:", host(), ":", port_, "-:22"),
       "-device",
       "virtio-net-pci,netdev=ctl,mac=52:54:00:1e:00:02",
       "-display",
       "none",
       "-monitor",
       "none",
       "-no-reboot",
       "-chardev",
       absl::StrCat("file,id=console,append=on,path=", ConsolePath()),
       "-serial",
       "chardev:console"});
  if (auto s = Launch(); !s.ok()) return s;
  supervisor_ = std::thread([this] { Supervise(); });
  return absl::OkStatus();
}

absl::Status GrubNode::Launch() {
  CommandSpec spec;
  spec.argv = argv_;
  spec.log_path = dir_ + "/qemu.log";
  auto started = runner_.Start(spec);
  if (!started.ok()) return started.status();
  std::lock_guard lock(mu_);
  qemu_ = std::move(*started);
  ++boots_;
  return absl::OkStatus();
}

void GrubNode::Supervise() {
  while (!stopping_) {
    absl::SleepFor(absl::Milliseconds(200));
    bool ended;
    {
      std::lock_guard lock(mu_);
      ended = qemu_ != nullptr && !qemu_->Running();
    }
    // The guest rebooted (or powered off): the machine starts over.
    if (ended && !stopping_ && !Launch().ok()) return;
  }
}

absl::Status GrubNode::WaitForSsh(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (Ssh("true", absl::Seconds(10)).ok()) return absl::OkStatus();
    absl::SleepFor(absl::Seconds(1));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no SSH from the grub node within ", absl::FormatDuration(timeout)));
}

CommandResult GrubNode::Ssh(const std::string& command, absl::Duration timeout) {
  CommandSpec spec;
  spec.argv = SshArgv(key(), host(), port_, command);
  spec.timeout = timeout;
  return runner_.Run(spec).value_or(CommandResult{});
}

}  // namespace iommuvm::testing
