#pragma once
// A minimal QMP (QEMU Machine Protocol) client over QEMU's unix socket
// (`-qmp unix:PATH,server=on,wait=off`): the greeting, capability
// negotiation, then one command and its reply. Enough to ask a guest's
// status and to quit QEMU cleanly instead of killing it.

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace iommuvm::agent {

// Runs `command` ("quit", "query-status") on the QMP socket at `path` and
// returns QEMU's reply line ({"return": ...}); an {"error": ...} reply is
// an error carrying QEMU's description. `quit` may end the connection
// before its reply: that counts as done.
absl::StatusOr<std::string> QmpExecute(const std::string& path, const std::string& command,
                                       absl::Duration timeout, const Clock* clock);

}  // namespace iommuvm::agent
