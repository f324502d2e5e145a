#pragma once
// The attempt state machine of the design: one enum, one table of legal
// edges, terminal states decided in one switch.
//
// PENDING -> ASSIGNED -> CONFIGURING_BOOT -> REBOOTING -> VERIFYING ->
//   PREPARING -> RUNNING -> COLLECTING -> SUCCEEDED
// (CONFIGURING_BOOT/REBOOTING skipped when the node already runs the right
// boot config; CONFIGURING_BOOT -> VERIFYING when the switch needs no
// reboot, e.g. sysfs.) Any non-terminal -> FAILED | CANCELLED | LOST.

#include <optional>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace iommuvm::scheduler {

enum class AttemptState {
  kPending,
  kAssigned,
  kConfiguringBoot,
  kRebooting,
  kVerifying,
  kPreparing,
  kRunning,
  kCollecting,
  kSucceeded,
  kFailed,
  kCancelled,
  kLost,
};

inline constexpr AttemptState kAllAttemptStates[] = {
    AttemptState::kPending,   AttemptState::kAssigned,  AttemptState::kConfiguringBoot,
    AttemptState::kRebooting, AttemptState::kVerifying, AttemptState::kPreparing,
    AttemptState::kRunning,   AttemptState::kCollecting, AttemptState::kSucceeded,
    AttemptState::kFailed,    AttemptState::kCancelled, AttemptState::kLost,
};

// True for states an attempt never leaves.
bool IsTerminal(AttemptState s);
// True when `from -> to` is an edge of the state machine.
bool IsLegalTransition(AttemptState from, AttemptState to);
// OK when legal, FailedPrecondition naming both states otherwise.
absl::Status CheckTransition(AttemptState from, AttemptState to);

// Stable upper-case names stored in the database ("CONFIGURING_BOOT").
absl::string_view AttemptStateName(AttemptState s);
std::optional<AttemptState> ParseAttemptState(absl::string_view name);

}  // namespace iommuvm::scheduler
