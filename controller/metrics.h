#pragma once
// The controller's Prometheus metrics. The registry is served on /metrics
// by an Exposer owned by Controller; tests read it directly.
//
// Besides its own counters it re-exports the telemetry agents stream while
// an attempt runs, as `iommuvm_live_<sample name>` gauges labelled with the
// agent, its role and the run (experiment, run, workload, iommu, vm) plus the
// sample's own labels, so dashboards move live. An attempt's series are
// removed when it ends: the results database keeps every sample.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/store/states.h"
#include "iommuvm/v1/common.pb.h"

namespace iommuvm {

// The run a live sample belongs to.
struct LiveRun {
  int64_t attempt_id = 0;
  int64_t experiment_id = 0;
  uint32_t run_index = 0;
  std::string workload;
  std::string iommu;
  std::string vm;
  bool simulated = false;  // the server node is --simulate_boot
};

class ControllerMetrics {
 public:
  ControllerMetrics();
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // Replaces the per-state run gauges with `counts` (states absent -> 0).
  void SetRunsByState(const std::map<store::RunState, int64_t>& counts);
  void SetAgentsConnected(int64_t n);
  // One agent data message ingested; `duplicate` when it was already stored.
  void CountIngest(const std::string& kind, bool duplicate);
  void CountSamples(uint64_t n);
  // A data message refused for good (recorded and acked with the reason).
  void CountRejected(const std::string& kind);
  void CountAttemptEnd(const std::string& state);
  // Sets the live gauge of one sample from `agent_id` (`role`: server or
  // client) for `run`.
  void SetLive(const LiveRun& run, const std::string& agent_id, const std::string& role,
               const v1::MetricSample& sample);
  // Removes every live series of an attempt that ended.
  void EndLive(int64_t attempt_id);
  // "iommuvm_live_" + `sample_name` with characters Prometheus does not
  // allow replaced by '_'.
  static std::string LiveName(const std::string& sample_name);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>& runs_;
  prometheus::Gauge& agents_connected_;
  prometheus::Family<prometheus::Counter>& ingest_;
  prometheus::Counter& duplicates_;
  prometheus::Counter& samples_;
  prometheus::Family<prometheus::Counter>& rejected_;
  prometheus::Family<prometheus::Counter>& attempts_ended_;
  std::mutex mu_;
  std::map<store::RunState, prometheus::Gauge*> run_gauges_;
  std::map<std::string, prometheus::Family<prometheus::Gauge>*> live_families_;
  // attempt id -> the live series it set, by agent, role, sample name and
  // labels: a sample finds its gauge without building its label set (that
  // cost more than storing it), and the series go when the attempt ends.
  struct LiveSeries {
    prometheus::Family<prometheus::Gauge>* family;
    prometheus::Gauge* gauge;
  };
  std::map<int64_t, std::unordered_map<std::string, LiveSeries>> live_series_;
};

}  // namespace iommuvm
