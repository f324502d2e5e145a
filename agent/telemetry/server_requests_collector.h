#pragma once
// The server under test's own request counter, polled every interval:
// "server_requests_per_second{app}" — live throughput on the server node,
// whichever load generator drives it (wrk prints nothing until it ends).

#include <optional>

#include "agent/telemetry/collector.h"
#include "agent/workload/server_application.h"

namespace iommuvm::agent {

class ServerRequestsCollector final : public Collector {
 public:
  ServerRequestsCollector(ServerApplication* app, std::string app_name)
      : app_(app), app_name_(std::move(app_name)) {}
  std::string name() const override { return "server_requests"; }
  absl::Status Collect(absl::Time now, std::vector<v1::MetricSample>* out) override;

 private:
  ServerApplication* app_;
  std::string app_name_;
  std::optional<uint64_t> previous_;
  absl::Time previous_time_;
};

}  // namespace iommuvm::agent
