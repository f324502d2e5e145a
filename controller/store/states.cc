#include "controller/store/states.h"

#include <utility>

#include "proto/state_names.h"

namespace iommuvm::store {
namespace {

// One table per enum: its values and the API's. The names come from the
// API enum (proto/state_names.h), so they are spelled once, in the .proto.
constexpr std::pair<AttemptState, v1::AttemptState> kAttemptApi[] = {
    {AttemptState::kPending, v1::ATTEMPT_STATE_PENDING},
    {AttemptState::kAssigned, v1::ATTEMPT_STATE_ASSIGNED},
    {AttemptState::kConfiguringBoot, v1::ATTEMPT_STATE_CONFIGURING_BOOT},
    {AttemptState::kRebooting, v1::ATTEMPT_STATE_REBOOTING},
    {AttemptState::kVerifying, v1::ATTEMPT_STATE_VERIFYING},
    {AttemptState::kLaunchingVm, v1::ATTEMPT_STATE_LAUNCHING_VM},
    {AttemptState::kPreparing, v1::ATTEMPT_STATE_PREPARING},
    {AttemptState::kRunning, v1::ATTEMPT_STATE_RUNNING},
    {AttemptState::kCollecting, v1::ATTEMPT_STATE_COLLECTING},
    {AttemptState::kSucceeded, v1::ATTEMPT_STATE_SUCCEEDED},
    {AttemptState::kFailed, v1::ATTEMPT_STATE_FAILED},
    {AttemptState::kCancelled, v1::ATTEMPT_STATE_CANCELLED},
    {AttemptState::kLost, v1::ATTEMPT_STATE_LOST},
};
constexpr std::pair<RunState, v1::RunState> kRunApi[] = {
    {RunState::kPending, v1::RUN_STATE_PENDING},     {RunState::kActive, v1::RUN_STATE_ACTIVE},
    {RunState::kSucceeded, v1::RUN_STATE_SUCCEEDED}, {RunState::kFailed, v1::RUN_STATE_FAILED},
    {RunState::kCancelled, v1::RUN_STATE_CANCELLED},
};
constexpr std::pair<ExperimentState, v1::ExperimentState> kExperimentApi[] = {
    {ExperimentState::kQueued, v1::EXPERIMENT_STATE_QUEUED},
    {ExperimentState::kRunning, v1::EXPERIMENT_STATE_RUNNING},
    {ExperimentState::kSucceeded, v1::EXPERIMENT_STATE_SUCCEEDED},
    {ExperimentState::kFailed, v1::EXPERIMENT_STATE_FAILED},
    {ExperimentState::kCancelled, v1::EXPERIMENT_STATE_CANCELLED},
};
constexpr std::pair<NodeHealth, v1::NodeHealth> kHealthApi[] = {
    {NodeHealth::kReady, v1::NODE_HEALTH_READY},
    {NodeHealth::kLost, v1::NODE_HEALTH_LOST},
    {NodeHealth::kQuarantined, v1::NODE_HEALTH_QUARANTINED},
};

template <typename Api, typename E, typename Table>
Api ApiIn(const Table& table, E value) {
  for (const auto& [v, api] : table) {
    if (v == value) return api;
  }
  return Api{};
}

template <typename E, typename Table>
absl::string_view NameIn(const Table& table, E value) {
  for (const auto& [v, api] : table) {
    if (v == value) return StateName(api);
  }
  return "UNKNOWN";
}

template <typename E, typename Table>
std::optional<E> ParseIn(const Table& table, absl::string_view name) {
  for (const auto& [v, api] : table) {
    if (StateName(api) == name) return v;
  }
  return std::nullopt;
}

}  // namespace

v1::AttemptState ToApi(AttemptState s) { return ApiIn<v1::AttemptState>(kAttemptApi, s); }
v1::RunState ToApi(RunState s) { return ApiIn<v1::RunState>(kRunApi, s); }
v1::ExperimentState ToApi(ExperimentState s) {
  return ApiIn<v1::ExperimentState>(kExperimentApi, s);
}
v1::NodeHealth ToApi(NodeHealth h) { return ApiIn<v1::NodeHealth>(kHealthApi, h); }

absl::string_view AttemptStateName(AttemptState s) { return NameIn(kAttemptApi, s); }
std::optional<AttemptState> ParseAttemptState(absl::string_view name) {
  return ParseIn<AttemptState>(kAttemptApi, name);
}
absl::string_view RunStateName(RunState s) { return NameIn(kRunApi, s); }
std::optional<RunState> ParseRunState(absl::string_view name) {
  return ParseIn<RunState>(kRunApi, name);
}
absl::string_view ExperimentStateName(ExperimentState s) { return NameIn(kExperimentApi, s); }
std::optional<ExperimentState> ParseExperimentState(absl::string_view name) {
  return ParseIn<ExperimentState>(kExperimentApi, name);
}
absl::string_view NodeHealthName(NodeHealth h) { return NameIn(kHealthApi, h); }
std::optional<NodeHealth> ParseNodeHealth(absl::string_view name) {
  return ParseIn<NodeHealth>(kHealthApi, name);
}

}  // namespace iommuvm::store
