#pragma once
// Collector: one source of node telemetry read through the sysroot
// FileSystem (so it is tested on fixture /proc trees).

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "iommuvm/v1/common.pb.h"

namespace iommuvm::agent {

// A sample of `name` at `now` (labels added by the caller).
inline v1::MetricSample MakeSample(const std::string& name, absl::Time now, double value) {
  v1::MetricSample s;
  s.set_name(name);
  s.set_timestamp_ms(absl::ToUnixMillis(now));
  s.set_value(value);
  return s;
}

class Collector {
 public:
  virtual ~Collector() = default;
  virtual std::string name() const = 0;
  // Appends samples for the interval since the previous call; the first
  // call may only take a baseline and append nothing.
  virtual absl::Status Collect(absl::Time now, std::vector<v1::MetricSample>* out) = 0;
};

}  // namespace iommuvm::agent
