#pragma once
// Every state the store keeps, as a type: attempts, runs, experiments and
// node health. Each maps onto the API's enum (ToApi), whose short name
// (CONFIGURING_BOOT, proto/state_names.h) is what the database stores
// and the CLI shows. The attempt state machine's edges are in
// attempt_state.h.

#include <optional>
#include <ostream>

#include "absl/strings/string_view.h"
#include "iommuvm/v1/controller.pb.h"

namespace iommuvm::store {

enum class AttemptState {
  kPending,
  kAssigned,
  kConfiguringBoot,
  kRebooting,
  kVerifying,
  kLaunchingVm,
  kPreparing,
  kRunning,
  kCollecting,
  kSucceeded,
  kFailed,
  kCancelled,
  kLost,
};

inline constexpr AttemptState kAllAttemptStates[] = {
    AttemptState::kPending,   AttemptState::kAssigned,   AttemptState::kConfiguringBoot,
    AttemptState::kRebooting, AttemptState::kVerifying,  AttemptState::kLaunchingVm,
    AttemptState::kPreparing,
    AttemptState::kRunning,   AttemptState::kCollecting, AttemptState::kSucceeded,
    AttemptState::kFailed,    AttemptState::kCancelled,  AttemptState::kLost,
};

// A run: waiting (PENDING), with an attempt under way (ACTIVE), or done.
enum class RunState { kPending, kActive, kSucceeded, kFailed, kCancelled };

enum class ExperimentState { kQueued, kRunning, kSucceeded, kFailed, kCancelled };

// A node as the scheduler sees it. BUSY (an attempt holds it) and LOST
// (not connected) are shown by the API on top of READY; QUARANTINED is
// stored after repeated losses until released.
enum class NodeHealth { kReady, kLost, kQuarantined };

v1::AttemptState ToApi(AttemptState s);
v1::RunState ToApi(RunState s);
v1::ExperimentState ToApi(ExperimentState s);
v1::NodeHealth ToApi(NodeHealth h);

absl::string_view AttemptStateName(AttemptState s);
std::optional<AttemptState> ParseAttemptState(absl::string_view name);
absl::string_view RunStateName(RunState s);
std::optional<RunState> ParseRunState(absl::string_view name);
absl::string_view ExperimentStateName(ExperimentState s);
std::optional<ExperimentState> ParseExperimentState(absl::string_view name);
absl::string_view NodeHealthName(NodeHealth h);
std::optional<NodeHealth> ParseNodeHealth(absl::string_view name);

// For logs and test failures: the stored name.
inline std::ostream& operator<<(std::ostream& os, AttemptState s) {
  return os << AttemptStateName(s);
}
inline std::ostream& operator<<(std::ostream& os, RunState s) { return os << RunStateName(s); }
inline std::ostream& operator<<(std::ostream& os, ExperimentState s) {
  return os << ExperimentStateName(s);
}
inline std::ostream& operator<<(std::ostream& os, NodeHealth h) { return os << NodeHealthName(h); }

}  // namespace iommuvm::store
