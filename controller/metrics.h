#pragma once
// The controller's Prometheus metrics. The registry is served on /metrics
// by an Exposer owned by Controller; tests read it directly.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace iommuvm {

class ControllerMetrics {
 public:
  ControllerMetrics();
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // Replaces the per-state run gauges with `counts` (states absent -> 0).
  void SetRunsByState(const std::map<std::string, int64_t>& counts);
  void SetAgentsConnected(int64_t n);
  // One agent data message ingested; `duplicate` when it was already stored.
  void CountIngest(const std::string& kind, bool duplicate);
  void CountSamples(uint64_t n);
  void CountAttemptEnd(const std::string& state);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>& runs_;
  prometheus::Gauge& agents_connected_;
  prometheus::Family<prometheus::Counter>& ingest_;
  prometheus::Counter& duplicates_;
  prometheus::Counter& samples_;
  prometheus::Family<prometheus::Counter>& attempts_ended_;
  std::mutex mu_;
  std::map<std::string, prometheus::Gauge*> run_gauges_;
};

}  // namespace iommuvm
