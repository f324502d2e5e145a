#pragma once
// nginx as a ServerApplication: workers and keep-alive from the step, access log
// off, static files of the configured sizes (/file-<bytes>, random content
// so nothing compresses or dedups) generated into the run directory,
// ready when it serves the first of them with HTTP 200.

#include "agent/workload/server_application.h"

namespace iommuvm::agent {

class NginxServer final : public ServerApplication {
 public:
  using ServerApplication::ServerApplication;

  // The nginx.conf written for `config` (exposed for tests).
  static std::string Config(const v1::StartServer& config, const std::string& host,
                            uint32_t port, const std::string& run_dir, bool as_root);

 protected:
  std::string name() const override { return "nginx"; }
  absl::StatusOr<std::vector<std::string>> Prepare(const v1::StartServer& config,
                                                   const std::string& host, uint32_t port,
                                                   const std::string& run_dir) override;
  bool Ready(const std::string& host, uint32_t port) override;
  absl::StatusOr<uint64_t> Requests(const std::string& host, uint32_t port) override;

 private:
  std::string probe_path_ = "/";
};

}  // namespace iommuvm::agent
