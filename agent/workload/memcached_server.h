#pragma once
// memcached as a ServerApplication: threads, memory, connection limit from the
// step; UDP off; answers `version` when ready; verbose log in the run dir.

#include "agent/workload/server_application.h"

namespace iommuvm::agent {

class MemcachedServer final : public ServerApplication {
 public:
  using ServerApplication::ServerApplication;

  // The command line for `config` (exposed for tests).
  static std::vector<std::string> CommandLine(const v1::StartServer& config,
                                              const std::string& host, uint32_t port,
                                              bool as_root);

 protected:
  std::string name() const override { return "memcached"; }
  // memcached exits on SIGTERM only at its clock thread's next 1 s tick:
  // dead time between runs. Its data are never needed after a run.
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
