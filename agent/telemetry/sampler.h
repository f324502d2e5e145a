#pragma once
// Sampler: runs collectors every interval on its own thread while a step
// is active and hands each interval's samples to `emit` as one batch.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/telemetry/collector.h"
#include "common/clock.h"

namespace iommuvm::agent {

class Sampler {
 public:
  using Emit = std::function<void(std::vector<v1::MetricSample>)>;
  // Starts sampling at once (the first pass takes baselines).
  Sampler(std::vector<std::unique_ptr<Collector>> collectors, const Clock* clock,
          absl::Duration interval, Emit emit);
  ~Sampler();
  // Stops, emitting a last batch; returns the number of samples emitted.
  uint64_t Stop();

 private:
  void Pass();
  std::vector<std::unique_ptr<Collector>> collectors_;
  const Clock* clock_;
  absl::Duration interval_;
  Emit emit_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t emitted_ = 0;
  std::set<std::string> unavailable_;  // collectors already reported
  std::thread thread_;
};

}  // namespace iommuvm::agent
