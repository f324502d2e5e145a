#pragma once
// What a finished step means for its attempt, as a pure function: the
// attempt's record, the step's kind and the agent's update (and the few
// facts the store holds, looked up by the caller) give the next state, the
// next step, the evidence to keep and the events to log — or why the
// attempt ends. The scheduler applies a Decision in one transaction; the
// table of decisions is tested without a database.

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "controller/scheduler/step_builder.h"
#include "controller/store/states.h"
#include "controller/store/store.h"
#include "iommuvm/v1/agent.pb.h"
#include "results/steady_state.h"

namespace iommuvm::scheduler {

// What the store knows that a decision needs.
struct StepFacts {
  std::string workload;         // the run's (event text)
  // A VM run: its guest's node id ("" for bare metal), the mode the spec
  // asks the guest to run (CURRENT: record only) and, for LaunchVm, the
  // probe the guest's agent registered with.
  std::string guest;
  v1::IommuMode guest_mode = v1::IOMMU_MODE_CURRENT;
  std::optional<v1::ProbeReport> guest_probe;
  bool has_result = false;      // RunLoad: the load's result set is stored
  results::LoadJudgement load;  // StopServer: the load over the server's telemetry
};

struct Decision {
  store::AttemptState from = store::AttemptState::kPending;
  store::AttemptState to = store::AttemptState::kPending;
  // Set: the attempt ends FAILED with this error (retried within the
  // spec's retries when `transient`).
  std::optional<std::string> error;
  bool transient = false;
  std::optional<StepKind> next;  // the step to send next when not ending
  std::map<std::string, std::string> evidence;
  std::optional<std::pair<std::string, uint32_t>> endpoint;  // where the server listens
  bool count_samples = false;   // the update's cumulative sample count is recorded
  bool keep_artifacts = false;  // the update's artifacts (server logs) are stored
  bool run_succeeded = false;
  std::vector<std::pair<std::string, std::string>> events;  // kind, message
  std::optional<v1::ProbeReport> verified;                  // the node's mode, as its probe saw it
  std::optional<v1::ProbeReport> client_switched;  // the client's mode after its own switch
  // Nothing to send after it: the node is going down (its agent comes back
  // registered, and the attempt's step is sent again then).
  bool await_node = false;
};

// The decision for `u`, an update of the attempt's current step `kind`,
// sent by `agent_id` (one of the attempt's nodes). A STARTED update moves
// only a switch that reboots (CONFIGURING_BOOT -> REBOOTING); any other
// decides nothing (from == to, no error).
Decision Decide(const store::AttemptRecord& a, StepKind kind, const std::string& agent_id,
                const v1::StepUpdate& u, const StepFacts& facts);

}  // namespace iommuvm::scheduler
