#pragma once
// netperf's server (`netserver -D -f`: in the foreground, serving tests
// one after another without forking) as a ServerApplication for netperf
// TCP_RR, on the run's address and port, pinned with `cores`; ready once
// it accepts connections.

#include "agent/workload/server_application.h"

namespace iommuvm::agent {

class NetserverServer final : public ServerApplication {
 public:
  using ServerApplication::ServerApplication;
  bool HasRequestCounter() const override { return false; }

 protected:
  std::string name() const override { return "netserver"; }
  absl::StatusOr<std::vector<std::string>> Prepare(const v1::StartServer& config,
                                                   const std::string& host, uint32_t port,
                                                   const std::string& run_dir) override;
  bool Ready(const std::string& host, uint32_t port) override;
  absl::StatusOr<uint64_t> Requests(const std::string& host, uint32_t port) override;
};

}  // namespace iommuvm::agent
