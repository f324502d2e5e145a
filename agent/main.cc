// iommuvm-agent: runs on every testbed node and executes the controller's steps.
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include <iostream>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "agent/inspect_command.h"
#include "common/log.h"
#include "common/shutdown.h"

ABSL_FLAG(std::string, controller, "127.0.0.1:7070", "controller gRPC address");
ABSL_FLAG(std::string, id, "", "agent id (default: hostname)");
ABSL_FLAG(std::string, roles, "server,client", "roles: server, client or both");
ABSL_FLAG(std::string, labels, "", "labels as key=value,key=value");
ABSL_FLAG(std::string, state_dir, "/var/lib/iommuvm-agent", "outbox and run directories");
ABSL_FLAG(std::string, data_address, "127.0.0.1", "address servers bind and clients target");
ABSL_FLAG(std::string, sysroot, "/", "root for /proc and /sys (fixtures, simulated nodes)");

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "inspect") {
    return iommuvm::agent::RunInspect(std::vector<std::string>(argv + 2, argv + argc), std::cout,
                                      std::cerr);
  }
  iommuvm::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "iommuvm-agent --controller ADDR [--roles server,client] ...\n"
      "Connects to the controller and executes its steps.\n"
      "iommuvm-agent inspect [--sysroot DIR] [--kernel-log FILE] [--format table|json]\n"
      "Shows the node's requested and detected IOMMU mode with evidence (see inspect --help).");
  absl::ParseCommandLine(argc, argv);
  auto roles = iommuvm::agent::ParseRoles(absl::GetFlag(FLAGS_roles));
  auto labels = iommuvm::agent::ParseLabels(absl::GetFlag(FLAGS_labels));
  if (!roles.ok() || !labels.ok()) {
    iommuvm::Log("iommuvm-agent", "usage: ",
                 (!roles.ok() ? roles.status() : labels.status()).message());
    return 2;
  }
  iommuvm::agent::AgentConfig config{
      absl::GetFlag(FLAGS_id),        absl::GetFlag(FLAGS_controller),   *roles, *labels,
      absl::GetFlag(FLAGS_state_dir), absl::GetFlag(FLAGS_data_address), absl::GetFlag(FLAGS_sysroot)};
  absl::Status s = iommuvm::RunUntilSignal(
      [&](const std::atomic<bool>* stop) { return iommuvm::agent::RunAgent(config, stop); });
  if (!s.ok()) iommuvm::Log("iommuvm-agent", "cannot start: ", s.message());
  return s.ok() ? 0 : 1;
}
