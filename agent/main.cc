// iommuvm-agent: runs on every testbed node and executes the controller's steps.
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "agent/agent.h"
#include "agent/inspect_command.h"
#include "agent/restore_node_command.h"
#include "agent/vm_check_command.h"
#include "common/log.h"
#include "common/shutdown.h"

ABSL_FLAG(std::string, controller, "127.0.0.1:7070", "controller gRPC address");
ABSL_FLAG(std::string, id, "", "agent id (default: hostname)");
ABSL_FLAG(std::string, roles, "server,client", "roles: server, client or both");
ABSL_FLAG(std::string, labels, "", "labels as key=value,key=value");
ABSL_FLAG(std::string, state_dir, "/var/lib/iommuvm-agent", "outbox and run directories");
ABSL_FLAG(std::string, data_address, "127.0.0.1", "address servers bind and clients target");
ABSL_FLAG(std::string, sysroot, "/", "root for /proc and /sys (fixtures, simulated nodes)");
ABSL_FLAG(std::string, data_nic, "",
          "data-plane NIC (interface or PCI address) whose IOMMU group decides the mode; "
          "default: the only PCI NIC");
ABSL_FLAG(std::string, data_mac, "",
          "the data-plane NIC by its MAC (instead of --data_nic; CloudLab manifests give MACs)");
ABSL_FLAG(bool, simulate_boot, false,
          "simulated node: generate /proc and /sys under --sysroot and simulate every mode "
          "switch and reboot (demo and tests; never touches the real boot)");
ABSL_FLAG(std::string, sim_vendor, "intel", "simulated node's IOMMU vendor: intel or amd");
ABSL_FLAG(bool, sim_caching_mode, false,
          "simulated node has an emulated VT-d with caching mode (lazy runs strict)");
ABSL_FLAG(std::string, sim_cmdline, "console=ttyS0 intel_iommu=on iommu.strict=1",
          "simulated node's command line at its first boot");

ABSL_FLAG(std::string, vm_bridge, "",
          "VM runs: the data-plane bridge this node's guests' tap devices join");
ABSL_FLAG(std::string, vm_guest_address, "",
          "VM runs: the guest's data-plane address on that bridge, ADDR/PREFIX");
ABSL_FLAG(std::string, vm_gateway, "", "VM runs: the guest's default route (\"\" = none)");
ABSL_FLAG(std::string, guest_dir, "/usr/lib/iommuvm/guest",
          "VM runs: the default guest image (vmlinuz, initrd.cpio from scripts/guest-image)");
ABSL_FLAG(std::string, qemu_binary, "qemu-system-x86_64",
          "VM runs: the QEMU to start guests with (a spec's vms.<name>.qemu_binary wins)");
ABSL_FLAG(bool, set_clock_from_controller, false,
          "set this machine's clock by the controller's at each registration (the guest "
          "image's init does: a guest has no NTP, and its samples must line up with the "
          "client's load window)");
ABSL_FLAG(std::string, tls_dir, "",
          "mutual TLS: a directory with ca.crt and agent-ID.crt/.key (iommuvm certs issue)");
ABSL_FLAG(std::string, tls_server_name, "",
          "the name the controller's certificate must carry when it is not --controller's host");
ABSL_FLAG(std::vector<std::string>, allow_cmdline, {},
          "kernel parameters (or whole key=value tokens) a spec may add to this node's boot "
          "beyond the IOMMU's and the benchmark set (docs/security.md); comma-separated");
ABSL_FLAG(std::string, libvirt_uri, "qemu:///system",
          "VM runs with backend: libvirt: the libvirtd that runs this node's guests");

int main(int argc, char** argv) {
  // Tools usable on their own, without a controller.
  using Subcommand = int (*)(const std::vector<std::string>&, std::ostream&, std::ostream&);
  static const std::map<std::string, Subcommand> kSubcommands = {
      {"inspect", iommuvm::agent::RunInspect},
      {"vm-check", iommuvm::agent::RunVmCheck},
      {"restore-node", iommuvm::agent::RunRestoreNode}};
  if (argc > 1 && kSubcommands.count(argv[1])) {
    return kSubcommands.at(argv[1])(std::vector<std::string>(argv + 2, argv + argc), std::cout,
                                    std::cerr);
  }
  iommuvm::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "iommuvm-agent --controller ADDR [--roles server,client] ...\n"
      "Connects to the controller and executes its steps.\n"
      "iommuvm-agent inspect [--sysroot DIR] [--kernel-log FILE] [--format table|json]\n"
      "Shows the node's requested and detected IOMMU mode with evidence (see inspect --help).\n"
      "iommuvm-agent vm-check [--viommu intel|amd|virtio|none] [--guest-iommu MODE] ...\n"
      "Boots a guest with an emulated IOMMU and shows the mode it runs (see vm-check --help).\n"
      "iommuvm-agent restore-node [--state_dir DIR]\n"
      "Undoes the boot configuration and VFIO bindings the agent made (see restore-node --help).");
  absl::ParseCommandLine(argc, argv);
  auto roles = iommuvm::agent::ParseRoles(absl::GetFlag(FLAGS_roles));
  auto labels = iommuvm::agent::ParseLabels(absl::GetFlag(FLAGS_labels));
  if (!roles.ok() || !labels.ok()) {
    iommuvm::Log("iommuvm-agent", "usage: ",
                 (!roles.ok() ? roles.status() : labels.status()).message());
    return 2;
  }
  iommuvm::agent::AgentConfig config;
  config.agent_id = absl::GetFlag(FLAGS_id);
  config.controller_address = absl::GetFlag(FLAGS_controller);
  config.roles = *roles;
  config.labels = *labels;
  config.state_dir = absl::GetFlag(FLAGS_state_dir);
  config.data_address = absl::GetFlag(FLAGS_data_address);
  config.sysroot = absl::GetFlag(FLAGS_sysroot);
  config.data_nic = absl::GetFlag(FLAGS_data_nic);
  config.data_mac = absl::GetFlag(FLAGS_data_mac);
  config.simulate_boot = absl::GetFlag(FLAGS_simulate_boot);
  config.sim_vendor = absl::GetFlag(FLAGS_sim_vendor);
  config.sim_caching_mode = absl::GetFlag(FLAGS_sim_caching_mode);
  config.sim_initial_cmdline = absl::GetFlag(FLAGS_sim_cmdline);
  config.argv.assign(argv, argv + argc);
  config.vm_bridge = absl::GetFlag(FLAGS_vm_bridge);
  config.vm_guest_address = absl::GetFlag(FLAGS_vm_guest_address);
  config.vm_gateway = absl::GetFlag(FLAGS_vm_gateway);
  config.guest_dir = absl::GetFlag(FLAGS_guest_dir);
  config.qemu_binary = absl::GetFlag(FLAGS_qemu_binary);
  config.libvirt_uri = absl::GetFlag(FLAGS_libvirt_uri);
  config.set_clock_from_controller = absl::GetFlag(FLAGS_set_clock_from_controller);
  config.tls_dir = absl::GetFlag(FLAGS_tls_dir);
  config.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  config.allow_cmdline = absl::GetFlag(FLAGS_allow_cmdline);
  if (config.simulate_boot && (config.sysroot.empty() || config.sysroot == "/")) {
    iommuvm::Log("iommuvm-agent", "usage: --simulate_boot needs its own --sysroot DIR");
    return 2;
  }
  absl::Status s = iommuvm::RunUntilSignal(
      [&](const std::atomic<bool>* stop) { return iommuvm::agent::RunAgent(config, stop); });
  if (!s.ok()) iommuvm::Log("iommuvm-agent", "cannot start: ", s.message());
  return s.ok() ? 0 : 1;
}
