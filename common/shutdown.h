#pragma once
// Blocks SIGTERM/SIGINT in every thread and lets main() wait for them, so a
// daemon shuts down at a well-defined point instead of inside a handler.

#include <atomic>
#include <functional>

#include "absl/status/status.h"

namespace iommuvm {

// Call first thing in main(), before any thread starts.
void BlockTerminationSignals();
// Waits for SIGTERM or SIGINT and returns the signal number.
int WaitForTerminationSignal();
// Runs `body` until it returns; a termination signal sets the flag it is
// given, and `body` is expected to return soon after.
absl::Status RunUntilSignal(const std::function<absl::Status(const std::atomic<bool>*)>& body);

}  // namespace iommuvm
