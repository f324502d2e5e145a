#pragma once
// Blocks SIGTERM/SIGINT in every thread and lets main() wait for them, so a
// daemon shuts down at a well-defined point instead of inside a handler.

namespace iommuvm {

// Call first thing in main(), before any thread starts.
void BlockTerminationSignals();
// Waits for SIGTERM or SIGINT and returns the signal number.
int WaitForTerminationSignal();

}  // namespace iommuvm
