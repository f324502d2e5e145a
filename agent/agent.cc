#include "agent/agent.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/node/inventory.h"
#include "agent/paths.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace iommuvm::agent {

absl::Status RunAgent(const AgentConfig& given, const std::atomic<bool>* stop) {
  AgentConfig config = given;
  // Child processes run in their run directory, so paths must be absolute.
  config.state_dir = std::filesystem::absolute(config.state_dir).lexically_normal().string();
  LocalFileSystem sysroot(config.sysroot);
  LocalFileSystem host_fs("/");
  LocalCommandRunner runner;
  RealClock clock;
  RETURN_IF_ERROR(host_fs.MakeDirs(config.state_dir));
  ASSIGN_OR_RETURN(auto outbox, Outbox::Open(OutboxPath(config.state_dir)));
  // Proc/sys facts come from the sysroot; run directories live on the host.
  AgentDeps deps{&host_fs, &runner, &clock};
  StepExecutor executor(deps, config.state_dir, config.data_address, outbox.get());

  std::string agent_id = config.agent_id;
  v1::Register base;
  FillNodeFacts(sysroot, &runner, &base);
  if (agent_id.empty()) agent_id = base.inventory().hostname();
  base.set_agent_id(agent_id);
  for (v1::Role r : config.roles) base.add_roles(r);
  for (const auto& [k, v] : config.labels) (*base.mutable_labels())[k] = v;
  base.set_data_address(config.data_address);
  base.set_agent_version("0.1.0");
  Log("agent", "agent ", agent_id, " starting (boot ", base.boot_id(), ", state ",
      config.state_dir, ")");

  SessionOptions options;
  options.controller_address = config.controller_address;
  SessionClient session(options, [&] { return base; }, outbox.get(), &executor);
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
