#pragma once
// Tiny blocking TCP helpers for readiness checks and port selection.

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/file_system.h"

namespace iommuvm::agent {

// Connects to host:port, sends `request`, returns what arrives first.
absl::StatusOr<std::string> TcpExchange(const std::string& host, uint32_t port,
                                        const std::string& request, absl::Duration timeout);
// Sends `count` commands (`command(i)` for i in [0, count)) over one
// connection in batches, and waits until each was answered with `ok_reply`;
// any other answer is an error quoting it. For preloading servers.
absl::Status TcpPipeline(const std::string& host, uint32_t port, uint64_t count,
                         const std::string& ok_reply,
                         const std::function<std::string(uint64_t)>& command);
// Whether something listens on host:port without talking to it: a TCP
// socket in LISTEN on the port in /proc/net/tcp{,6} (this network
// namespace's), else — those unreadable — a connection that is accepted.
// For servers that would log a probe that says nothing as a failed client.
bool Listening(const FileSystem& files, const std::string& host, uint32_t port);
// A port on `host` that was free a moment ago (bind to port 0, then close).
absl::StatusOr<uint32_t> PickFreePort(const std::string& host);
// The first of `count` consecutive ports on `host` that were all free a
// moment ago (servers with one process per flow).
absl::StatusOr<uint32_t> PickFreePorts(const std::string& host, uint32_t count);

}  // namespace iommuvm::agent
