#pragma once
// Agent: the daemon on every node. Wires the Outbox, StepExecutor and
// SessionClient; main() only fills AgentConfig.

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/session/session_client.h"
#include "iommuvm/v1/common.pb.h"

namespace iommuvm::agent {

struct AgentConfig {
  std::string agent_id;  // default: hostname
  std::string controller_address = "127.0.0.1:7070";
  std::vector<v1::Role> roles = {v1::ROLE_SERVER, v1::ROLE_CLIENT};
  std::map<std::string, std::string> labels;
  std::string state_dir = "/var/lib/iommuvm-agent";
  std::string data_address = "127.0.0.1";
  std::string sysroot = "/";
  std::string data_nic;  // the data-plane NIC ("" = the only PCI NIC)
  std::string data_mac;  // or the NIC with this MAC (from a CloudLab manifest)
  // Simulated node: /proc and /sys under `sysroot` are generated, switches
  // are simulated and "reboots" restart this process with `argv`.
  bool simulate_boot = false;
  std::string sim_vendor = "intel";
  bool sim_caching_mode = false;
  std::string sim_initial_cmdline = "console=ttyS0 intel_iommu=on iommu.strict=1";
  std::vector<std::string> argv;
  // VM runs: where this node's guests go (agent/vm/guest_vm.h).
  std::string vm_bridge;
  std::string vm_guest_address;  // CIDR
  std::string vm_gateway;
  std::string guest_dir = "/usr/lib/iommuvm/guest";
  std::string qemu_binary = "qemu-system-x86_64";
  std::string libvirt_uri = "qemu:///system";
  bool set_clock_from_controller = false;  // an agent in a guest (no NTP there)
  // Mutual TLS: ca.crt and this agent's agent-ID.crt/.key (a guest uses its
  // host's). Empty: plaintext.
  std::string tls_dir;
  // The name the controller's certificate must have, when it is not the
  // address dialled (a guest dials 10.0.2.2 for its host's controller).
  std::string tls_server_name;
  // Kernel parameters the spec may add beyond the benchmark set
  // (iommu::BenchmarkParameters); --allow_cmdline.
  std::vector<std::string> allow_cmdline;
};

// Runs the agent until `stop` is set. Errors only when it cannot start
// (e.g. the state directory is unusable); connection problems are retried.
absl::Status RunAgent(const AgentConfig& config, const std::atomic<bool>* stop);

// Parses "server,client" into roles; InvalidArgument names a bad entry.
absl::StatusOr<std::vector<v1::Role>> ParseRoles(const std::string& text);
// Parses "k=v,k2=v2" into labels.
absl::StatusOr<std::map<std::string, std::string>> ParseLabels(const std::string& text);

}  // namespace iommuvm::agent
