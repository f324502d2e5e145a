#pragma once
// Small helpers shared by the scheduler's files (scheduler.cc: submission
// and connectivity; scheduler_ingest.cc: what agents report;
// scheduler_attempts.cc: how attempts end; scheduler_dispatch.cc:
// following the plan). Not part of the scheduler's interface.

#include <google/protobuf/util/json_util.h>

#include <string>
#include <vector>

#include "controller/scheduler/step_builder.h"
#include "controller/store/attempt_state.h"
#include "controller/store/store.h"
#include "iommuvm/v1/agent.pb.h"
#include "spec/params.h"
#include "spec/spec.h"

namespace iommuvm::scheduler {

inline constexpr char kLog[] = "scheduler";

// Reads a node's registered inventory; false when it is unreadable.
inline bool ReadInventory(const store::NodeRecord& node, v1::Inventory* inventory) {
  return google::protobuf::util::JsonStringToMessage(node.inventory_json, inventory).ok();
}

// A node's registered inventory (empty when unreadable).
inline v1::Inventory InventoryOf(const store::NodeRecord& node) {
  v1::Inventory inventory;
  if (!ReadInventory(node, &inventory)) return v1::Inventory();
  return inventory;
}

// The kernel release in a node's registered inventory ("" unknown).
inline std::string KernelReleaseOf(const store::NodeRecord& node) {
  return InventoryOf(node).kernel_release();
}

// An attempt's evidence value ("" when absent).
inline std::string EvidenceOf(const store::AttemptRecord& a, const std::string& key) {
  auto it = a.evidence.find(key);
  return it == a.evidence.end() ? "" : it->second;
}

using store::AttemptState;
// Attempt evidence keys (defined with the record they key).
using store::kFreshBootKey;
using store::kGuestNodeKey;
using store::kKernelNameKey;
using store::kKernelReleaseKey;
using store::kKernelTargetKey;
using store::kLoadEndedKey;
using store::kLoadStartedKey;
using store::kServerSwitchKey;
using store::kSimulatedKey;
using store::kUnsteadyKey;

inline const store::NodeRecord* FindNode(const std::vector<store::NodeRecord>& nodes,
                                         const std::string& agent_id) {
  for (const auto& n : nodes) {
    if (n.agent_id == agent_id) return &n;
  }
  return nullptr;
}

using store::kParentLabel;

// Where a step of `kind` runs: the load on the client; a VM run's server
// in its guest; everything else (switch, verify, launch, cleanup) on the
// server node itself.
inline std::string NodeFor(const store::AttemptRecord& a, StepKind kind) {
  if (kind == StepKind::kRunLoad || kind == StepKind::kSwitchClient) return a.client_node;
  std::string guest = store::GuestNodeOf(a);
  if (!guest.empty() && (kind == StepKind::kStartServer || kind == StepKind::kStopServer)) {
    return guest;
  }
  return a.server_node;
}

inline bool HasRole(const store::NodeRecord& n, v1::Role role) {
  for (v1::Role r : n.roles) {
    if (r == role) return true;
  }
  return false;
}

// The run's workload with its user-axis values applied.
inline spec::WorkloadSpec WorkloadOf(const spec::ExperimentSpec& spec,
                                     const store::RunRecord& run) {
  return spec::ApplyParams(spec.workloads.at(run.point.workload), run.point.params);
}

// An evidence value of a step update ("" when absent).
inline std::string EvidenceOf(const v1::StepUpdate& u, const std::string& key) {
  auto it = u.evidence().find(key);
  return it == u.evidence().end() ? "" : it->second;
}

// The mode a probe's report says counts (the agent's registration facts
// or VerifyMode evidence): the data-plane NIC's group, else all groups.
inline std::string ProbedMode(const v1::ProbeReport& probe) {
  return probe.data_mode().empty() ? probe.detected() : probe.data_mode();
}

// A probe report as stored evidence, each field under `prefix`.
inline void AddProbeEvidence(const v1::ProbeReport& p, const std::string& prefix,
                             std::map<std::string, std::string>* evidence) {
  for (const auto& [key, value] :
       {std::pair<const char*, const std::string&>{"boot_id", p.boot_id()},
        {"requested", p.requested()},
        {"detected", p.detected()},
        {"data_nic", p.data_nic()},
        {"data_group", p.data_group()},
        {"data_group_type", p.data_group_type()},
        {"data_mode", p.data_mode()},
        {"mismatch", p.mismatch()},
        {"kernel_release", p.kernel_release()}}) {
    (*evidence)[prefix + key] = value;
  }
}

inline store::EventRecord Event(const store::AttemptRecord& a, const std::string& agent,
                                const std::string& kind, const std::string& message) {
  return store::EventRecord{a.experiment_id, a.run_id, a.id, agent, kind, message};
}

// The attempt update moving `a` from `from` to `to`.
inline store::AttemptUpdate Move(const store::AttemptRecord& a, AttemptState from,
                                 AttemptState to) {
  store::AttemptUpdate u;
  u.attempt_id = a.id;
  u.from = from;
  u.to = to;
  return u;
}

}  // namespace iommuvm::scheduler
