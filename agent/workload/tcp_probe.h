#pragma once
// Tiny blocking TCP helpers for readiness checks and port selection.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace iommuvm::agent {

// Connects to host:port, sends `request`, returns what arrives first.
absl::StatusOr<std::string> TcpExchange(const std::string& host, uint32_t port,
                                        const std::string& request, absl::Duration timeout);
// A port on `host` that was free a moment ago (bind to port 0, then close).
absl::StatusOr<uint32_t> PickFreePort(const std::string& host);

}  // namespace iommuvm::agent
