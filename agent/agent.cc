#include "agent/agent.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/leftover_processes.h"
#include "agent/node/control_nic.h"
#include "agent/node/inventory.h"
#include "agent/node/node_control.h"
#include "agent/node/sim_node.h"
#include "agent/node/sysfs.h"
#include "agent/node/vfio.h"
#include "agent/paths.h"
#include "agent/vm/libvirt_vm.h"
#include "agent/vm/qemu_features.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "tls/certificate_authority.h"
#include "tls/credentials.h"

namespace iommuvm::agent {

absl::Status RunAgent(const AgentConfig& given, const std::atomic<bool>* stop) {
  AgentConfig config = given;
  // Child processes run in their run directory, so paths must be absolute.
  config.state_dir = AbsolutePath(config.state_dir);
  LocalFileSystem sysroot(config.sysroot);
  LocalFileSystem host_fs("/");
  LocalCommandRunner runner;
  RealClock clock;
  RETURN_IF_ERROR(host_fs.MakeDirs(config.state_dir));
  ASSIGN_OR_RETURN(auto outbox, Outbox::Open(OutboxPath(config.state_dir)));
  if (config.simulate_boot && !sysroot.Exists("/proc/cmdline")) {
    RETURN_IF_ERROR(SimBoot(&sysroot, config.sim_initial_cmdline,
                            SimNodeSpec{config.sim_vendor, config.sim_caching_mode}));
  }
  // A deploy from a CloudLab manifest knows the data NIC by its MAC only.
  if (!config.data_mac.empty() && config.data_nic.empty()) {
    for (const NetInterface& n : NetInterfaces(sysroot)) {
      if (absl::AsciiStrToLower(n.mac) == absl::AsciiStrToLower(config.data_mac)) {
        config.data_nic = n.name;
      }
    }
    if (config.data_nic.empty()) {
      return absl::NotFoundError(absl::StrCat("--data_mac ", config.data_mac,
                                              ": no network interface of this node has it"));
    }
    Log("agent", "data NIC ", config.data_nic, " (MAC ", config.data_mac, ")");
  }
  NodeControlConfig node_config;
  node_config.state_dir = config.state_dir;
  node_config.data_nic = config.data_nic;
  node_config.allow_cmdline = config.allow_cmdline;
  node_config.boot.simulate = config.simulate_boot;
  node_config.boot.sim_vendor = config.sim_vendor;
  node_config.boot.sim_caching_mode = config.sim_caching_mode;
  node_config.boot.restart_argv = config.argv;
  NodeControl node(&sysroot, &host_fs, &runner, node_config);
  // A switch that rebooted this node: report its outcome (through the
  // outbox, so it survives until the controller has it).
  if (auto booted = node.CompletePendingBoot()) {
    v1::AgentMessage msg;
    std::string step_id = booted->step_id();
    *msg.mutable_step_update() = std::move(*booted);
    RETURN_IF_ERROR(outbox->EnqueueStepEnd({std::move(msg)}, step_id));
  }
  // Servers and generators an earlier life of this agent left running.
  for (const LeftoverProcess& p : KillLeftovers(RunsRoot(config.state_dir))) {
    Log("agent", "killed ", p.comm, " (pid ", p.pid, ") left running in ", p.cwd,
        " by an earlier life of this agent");
  }
  // libvirt domains of guests an earlier life left running (QEMU run by
  // iommuvm itself went with the processes above).
  if (!config.vm_bridge.empty()) {
    for (const std::string& name :
         RemoveLeftoverDomains(&runner, config.agent_id, config.libvirt_uri)) {
      Log("agent", "removed libvirt domain ", name,
          " left running by an earlier life of this agent");
    }
  }
  // Devices a crashed run left on vfio-pci go back to their drivers.
  std::string control_bdf;
  if (config.sysroot == "/") {
    std::string control = ControlInterface(config.controller_address);
    for (const NetInterface& n : NetInterfaces(sysroot)) {
      if (n.name == control) control_bdf = n.bdf;
    }
  }
  Vfio vfio(&sysroot, &host_fs, config.state_dir, control_bdf);
  for (const VfioBinding& b : vfio.RestoreLeftovers()) {
    Log("agent", "gave ", b.bdf, " back to ", b.original_driver.empty() ? "no driver" : b.original_driver,
        " (left on vfio-pci by a previous run)");
  }
  for (const std::string& pf : vfio.DisableLeftoverVfs()) {
    Log("agent", "disabled the VFs of ", pf, " an earlier life enabled for a guest");
  }
  // Steps measure the live host (its /proc, /sys, run directories); only
  // node control and the probe read the sysroot.
  std::unique_ptr<PerfCounters> perf = MakeLinuxPerfCounters();
  AgentDeps deps{&host_fs, &runner, &clock, perf.get()};
  std::string agent_id = config.agent_id;
  GuestHost guests{agent_id,           config.controller_address,
                   config.vm_bridge,   config.vm_guest_address,
                   config.vm_gateway,  config.guest_dir,
                   config.qemu_binary, config.data_nic,
                   config.libvirt_uri, &vfio,
                   config.tls_dir};
  // Facts are read afresh at every registration: a node whose mode changed
  // while the agent ran (a switch by hand, a sysfs write) must not be
  // reported with the snapshot of its start.
  // What the node's QEMU offers does not change while the agent runs.
  std::vector<std::string> qemu_features;
  if (!config.vm_bridge.empty()) qemu_features = QemuFeatures(&runner, config.qemu_binary);
  auto make_register = [&]() {
    v1::Register reg;
    FillNodeFacts(sysroot, &runner, &reg);
    reg.set_agent_id(agent_id.empty() ? reg.inventory().hostname() : agent_id);
    for (v1::Role r : config.roles) reg.add_roles(r);
    for (const auto& [k, v] : config.labels) (*reg.mutable_labels())[k] = v;
    reg.set_data_address(config.data_address);
    reg.set_agent_version("0.1.0");
    reg.set_simulated(config.simulate_boot);
    *reg.mutable_probe() = node.Probe(v1::IOMMU_MODE_CURRENT).report;
    reg.mutable_inventory()->set_data_nic(reg.probe().data_nic());
    reg.mutable_inventory()->set_stock_kernel_release(node.StockKernelRelease());
    if (!config.vm_bridge.empty()) {
      auto libvirt = LibvirtHypervisor(&runner, config.libvirt_uri);
      if (libvirt.ok()) reg.mutable_inventory()->set_libvirt(*libvirt);
      for (const std::string& f : qemu_features) reg.mutable_inventory()->add_qemu_features(f);
    }
    return reg;
  };
  v1::Register first = make_register();
  agent_id = first.agent_id();
  guests.host_id = agent_id;
  StepExecutor executor(deps, config.state_dir, config.data_address, outbox.get(), &node, guests);
  Log("agent", "agent ", agent_id, " starting (boot ", first.boot_id(), ", state ",
      config.state_dir, ", outbox epoch ", outbox->epoch(), ")");

  SessionOptions options;
  options.clock = &clock;
  options.controller_address = config.controller_address;
  if (!config.tls_dir.empty()) {
    // A guest ("host/vm") presents its host's certificate.
    std::string owner = agent_id.substr(0, agent_id.find('/'));
    ASSIGN_OR_RETURN(
        tls::TlsFiles files,
        tls::LoadTlsFiles(host_fs, config.tls_dir, tls::FileStem(tls::PeerKind::kAgent, owner)));
    options.credentials = tls::ChannelCredentials(files);
    options.tls_server_name = config.tls_server_name;
  }
  if (config.set_clock_from_controller) options.step_clock = StepSystemClock;
  SessionClient session(options, make_register, outbox.get(), &executor);
  session.Run(stop);
  Log("agent", "agent ", agent_id, " stopping");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Role>> ParseRoles(const std::string& text) {
  std::vector<v1::Role> roles;
  for (absl::string_view r : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    if (r == "server") {
      roles.push_back(v1::ROLE_SERVER);
    } else if (r == "client") {
      roles.push_back(v1::ROLE_CLIENT);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown role '", r, "'; allowed: server, client"));
    }
  }
  if (roles.empty()) return absl::InvalidArgumentError("at least one role is needed");
  return roles;
}

absl::StatusOr<std::map<std::string, std::string>> ParseLabels(const std::string& text) {
  std::map<std::string, std::string> labels;
  for (absl::string_view kv : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    size_t eq = kv.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat("label '", kv, "' is not key=value"));
    }
    labels[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  return labels;
}

}  // namespace iommuvm::agent
