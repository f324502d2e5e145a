#include "agent/telemetry/server_requests_collector.h"

#include "common/status_macros.h"

namespace iommuvm::agent {

absl::Status ServerRequestsCollector::Collect(absl::Time now, std::vector<v1::MetricSample>* out) {
  ASSIGN_OR_RETURN(uint64_t served, app_->RequestsServed());
  if (previous_ && now > previous_time_ && served >= *previous_) {
    v1::MetricSample s = MakeSample("server_requests_per_second", now,
                                    static_cast<double>(served - *previous_) /
                                        absl::ToDoubleSeconds(now - previous_time_));
    (*s.mutable_labels())["app"] = app_name_;
    out->push_back(std::move(s));
  }
  previous_ = served;
  previous_time_ = now;
  return absl::OkStatus();
}

}  // namespace iommuvm::agent
