#pragma once
// sockperf's server (`sockperf server --tcp`) as a ServerApplication: it
// echoes each ping-pong request, pinned with `cores`; ready once it
// accepts a connection (sockperf serves any number of them).

#include "agent/workload/server_application.h"

namespace iommuvm::agent {

class SockperfServer final : public ServerApplication {
 public:
  using ServerApplication::ServerApplication;
  bool HasRequestCounter() const override { return false; }

 protected:
  std::string name() const override { return "sockperf"; }
  absl::StatusOr<std::vector<std::string>> Prepare(const v1::StartServer& config,
                                                   const std::string& host, uint32_t port,
                                                   const std::string& run_dir) override;
  bool Ready(const std::string& host, uint32_t port) override;
  absl::StatusOr<uint64_t> Requests(const std::string& host, uint32_t port) override;
};

}  // namespace iommuvm::agent
