#pragma once
// redis-server as a ServerApplication: no persistence, bound to the data-plane
// address, io-threads and maxmemory from the step, log kept in the run dir.

#include "agent/workload/server_application.h"

namespace iommuvm::agent {

class RedisServer final : public ServerApplication {
 public:
  using ServerApplication::ServerApplication;

  // The redis.conf written for `config` (exposed for tests).
  static std::string Config(const v1::StartServer& config, const std::string& host,
                            uint32_t port, const std::string& run_dir);

 protected:
  std::string name() const override { return "redis-server"; }
  // redis (7.0 on) shuts down on SIGTERM at its next serverCron tick, up to
  // 100 ms at the default hz 10 (raising hz would add background work to
  // the measurement): dead time between runs. Its data are never needed.
  absl::Duration StopGrace() const override { return absl::ZeroDuration(); }
  absl::StatusOr<std::vector<std::string>> Prepare(const v1::StartServer& config,
                                                   const std::string& host, uint32_t port,
                                                   const std::string& run_dir) override;
  bool Ready(const std::string& host, uint32_t port) override;
  absl::StatusOr<uint64_t> Requests(const std::string& host, uint32_t port) override;
  absl::Status Preload(const v1::StartServer& config, const std::string& host,
                       uint32_t port) override;
};

}  // namespace iommuvm::agent
