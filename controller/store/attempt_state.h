#pragma once
// The attempt state machine of the design: the enum (states.h), one table
// of legal edges, terminal states decided in one switch. The store checks
// every transition against it in the transaction that makes it.
//
// PENDING -> ASSIGNED -> CONFIGURING_BOOT -> REBOOTING -> VERIFYING ->
//   PREPARING -> RUNNING -> COLLECTING -> SUCCEEDED
// (CONFIGURING_BOOT/REBOOTING skipped when the node already runs the right
// boot config; CONFIGURING_BOOT -> VERIFYING when the switch needs no
// reboot, e.g. sysfs.) Any non-terminal -> FAILED | CANCELLED | LOST.

#include "absl/status/status.h"
#include "controller/store/states.h"

namespace iommuvm::store {

// True for states an attempt never leaves.
bool IsTerminal(AttemptState s);
// True when `from -> to` is an edge of the state machine.
bool IsLegalTransition(AttemptState from, AttemptState to);
// OK when legal, FailedPrecondition naming both states otherwise.
absl::Status CheckTransition(AttemptState from, AttemptState to);

}  // namespace iommuvm::store
