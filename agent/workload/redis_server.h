#pragma once
// redis-server as an Application: no persistence, bound to the data-plane
// address, io-threads and maxmemory from the step, log kept in the run dir.

#include "agent/workload/application.h"

namespace iommuvm::agent {

class RedisServer final : public Application {
 public:
  explicit RedisServer(CommandRunner* runner) : runner_(runner) {}
  ~RedisServer() override { Stop(); }
  absl::StatusOr<uint32_t> Start(const v1::StartServer& config, const std::string& host,
                                 const std::string& run_dir, absl::Duration timeout) override;
  bool Stop() override;
  bool Running() override;

  // The redis.conf written for `config` (exposed for tests).
  static std::string Config(const v1::StartServer& config, const std::string& host,
                            uint32_t port, const std::string& run_dir);

 private:
  CommandRunner* runner_;
  std::unique_ptr<Process> process_;
};

}  // namespace iommuvm::agent
