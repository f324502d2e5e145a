#include "tests/support/qemu_node.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "agent/vm/guest_vm.h"
#include "agent/vm/qemu_command.h"

namespace iommuvm::testing {

QemuNode::QemuNode(const Topology& net, QemuNodeConfig config)
    : net_(net), config_(std::move(config)), tap_(absl::StrCat("ivn", ::getpid() % 100000)) {}

QemuNode::~QemuNode() {
  if (qemu_ != nullptr) qemu_->Stop(absl::Seconds(2));
  net_.RemoveGuestTap(tap_);
}

std::string QemuNode::Console() const {
  std::ifstream in(ConsolePath());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Status QemuNode::Start() {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(config_.dir + "/share/boot", ec);
  fs::create_directories(config_.dir + "/share/state", ec);
  for (const auto& [release, image] : config_.kernels) {
    fs::copy_file(image, config_.dir + "/share/boot/vmlinuz-" + release,
                  fs::copy_options::overwrite_existing, ec);
    if (!ec) {
      auto own = config_.initrd_of.find(release);
      fs::copy_file(own != config_.initrd_of.end() ? own->second : config_.initrd,
                    config_.dir + "/share/boot/initrd.img-" + release,
                    fs::copy_options::overwrite_existing, ec);
    }
    if (ec)
      return absl::InternalError(absl::StrCat("installing kernel ", release, ": ", ec.message()));
  }
  if (absl::Status s = net_.AddGuestTap(tap_); !s.ok()) return s;
  agent::GuestHost host;
  host.controller_address = config_.controller_address;
  host.guest_address = net_.guest_address() + "/24";
  host.gateway = net_.guest_gateway();
  const std::string data_mac = "52:54:00:1e:00:01", control_mac = "52:54:00:1e:00:02";
  v1::VmConfig vm;
  vm.set_name(config_.id);
  vm.set_vcpus(1);
  vm.set_memory_bytes(1024ull << 20);
  vm.set_viommu(config_.viommu);
  vm.set_intremap(true);
  vm.set_kernel(config_.dir + "/share/boot/vmlinuz-" + config_.kernels.front().first);
  vm.set_initrd(config_.initrd);
  vm.set_append(config_.cmdline);
  agent::QemuLaunch launch;
  launch.accel = "tcg";
  launch.console_path = ConsolePath();
  launch.data_netdev = absl::StrCat("tap,id=data,ifname=", tap_, ",script=no,downscript=no");
  launch.data_mac = data_mac;
  launch.control_mac = control_mac;
  launch.extra_append =
      absl::StrCat(agent::GuestAgentParams(host, config_.id, data_mac, control_mac),
                   " iommuvm.node=iommuvm-node");
  auto argv = agent::QemuCommandLine(vm, launch);
  if (!argv.ok()) return argv.status();
  // TCG's `max` CPU names a vendor of its own choosing; the node's is the
  // vIOMMU's (an r650's or a c6525's), so the controller writes the tokens
  // that vendor's IOMMU reads (intel_iommu=, amd_iommu=).
  for (std::string& a : *argv) {
    if (a == "max") {
      a = config_.viommu == "amd" ? "max,vendor=AuthenticAMD" : "max,vendor=GenuineIntel";
    }
  }
  argv->insert(argv->end(),
               {"-virtfs", absl::StrCat("local,path=", config_.dir,
                                        "/share,mount_tag=iommuvm-node,security_model=none")});
  CommandSpec spec;
  spec.argv = net_.In(net_.sut_ns());
  spec.argv.insert(spec.argv.end(), argv->begin(), argv->end());
  spec.log_path = config_.dir + "/qemu.log";
  auto started = runner_.Start(spec);
  if (!started.ok()) return started.status();
  qemu_ = std::move(*started);
  return absl::OkStatus();
}

}  // namespace iommuvm::testing
