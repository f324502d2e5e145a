#pragma once
// iperf3 as a ServerApplication: one `iperf3 -s` per flow, each on its own
// port (port..port+flows-1) and, with `cores`, its own core, so every flow
// is a pinned server/client pair (iperf3 before 3.16 runs all streams of
// one process on one thread). Ready when each port listens; a connection
// to probe it would count as a failed test in iperf3's log.

#include "agent/workload/server_application.h"

namespace iommuvm::agent {

class Iperf3Server final : public ServerApplication {
 public:
  using ServerApplication::ServerApplication;
  bool HasRequestCounter() const override { return false; }

 protected:
  std::string name() const override { return "iperf3"; }
  uint32_t Processes(const v1::StartServer& config) const override;
  absl::StatusOr<std::vector<std::string>> Prepare(const v1::StartServer& config,
                                                   const std::string& host, uint32_t port,
                                                   const std::string& run_dir) override;
  bool Ready(const std::string& host, uint32_t port) override;
  absl::StatusOr<uint64_t> Requests(const std::string& host, uint32_t port) override;
};

}  // namespace iommuvm::agent
