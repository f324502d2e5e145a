#include "controller/store/states.h"

#include <utility>

namespace iommuvm::store {
namespace {

// One table per enum: its values and their stored names.
constexpr std::pair<AttemptState, absl::string_view> kAttemptNames[] = {
    {AttemptState::kPending, "PENDING"},
    {AttemptState::kAssigned, "ASSIGNED"},
    {AttemptState::kConfiguringBoot, "CONFIGURING_BOOT"},
    {AttemptState::kRebooting, "REBOOTING"},
    {AttemptState::kVerifying, "VERIFYING"},
    {AttemptState::kPreparing, "PREPARING"},
    {AttemptState::kRunning, "RUNNING"},
    {AttemptState::kCollecting, "COLLECTING"},
    {AttemptState::kSucceeded, "SUCCEEDED"},
    {AttemptState::kFailed, "FAILED"},
    {AttemptState::kCancelled, "CANCELLED"},
    {AttemptState::kLost, "LOST"},
};
constexpr std::pair<RunState, absl::string_view> kRunNames[] = {
    {RunState::kPending, "PENDING"},     {RunState::kActive, "ACTIVE"},
    {RunState::kSucceeded, "SUCCEEDED"}, {RunState::kFailed, "FAILED"},
    {RunState::kCancelled, "CANCELLED"},
};
constexpr std::pair<ExperimentState, absl::string_view> kExperimentNames[] = {
    {ExperimentState::kQueued, "QUEUED"},       {ExperimentState::kRunning, "RUNNING"},
    {ExperimentState::kSucceeded, "SUCCEEDED"}, {ExperimentState::kFailed, "FAILED"},
    {ExperimentState::kCancelled, "CANCELLED"},
};
constexpr std::pair<NodeHealth, absl::string_view> kHealthNames[] = {
    {NodeHealth::kReady, "READY"},
    {NodeHealth::kLost, "LOST"},
    {NodeHealth::kQuarantined, "QUARANTINED"},
};

template <typename E, typename Table>
absl::string_view NameIn(const Table& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "UNKNOWN";
}

template <typename E, typename Table>
std::optional<E> ParseIn(const Table& table, absl::string_view name) {
  for (const auto& [v, n] : table) {
    if (n == name) return v;
  }
  return std::nullopt;
}

}  // namespace

absl::string_view AttemptStateName(AttemptState s) { return NameIn(kAttemptNames, s); }
std::optional<AttemptState> ParseAttemptState(absl::string_view name) {
  return ParseIn<AttemptState>(kAttemptNames, name);
}
absl::string_view RunStateName(RunState s) { return NameIn(kRunNames, s); }
std::optional<RunState> ParseRunState(absl::string_view name) {
  return ParseIn<RunState>(kRunNames, name);
}
absl::string_view ExperimentStateName(ExperimentState s) { return NameIn(kExperimentNames, s); }
std::optional<ExperimentState> ParseExperimentState(absl::string_view name) {
  return ParseIn<ExperimentState>(kExperimentNames, name);
}
absl::string_view NodeHealthName(NodeHealth h) { return NameIn(kHealthNames, h); }
std::optional<NodeHealth> ParseNodeHealth(absl::string_view name) {
  return ParseIn<NodeHealth>(kHealthNames, name);
}

}  // namespace iommuvm::store
