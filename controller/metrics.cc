#include "controller/metrics.h"

namespace iommuvm {

ControllerMetrics::ControllerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      runs_(prometheus::BuildGauge()
                .Name("iommuvm_runs")
                .Help("Runs of all experiments by state")
                .Register(*registry_)),
      agents_connected_(prometheus::BuildGauge()
                            .Name("iommuvm_agents_connected")
                            .Help("Agents with an open session")
                            .Register(*registry_)
                            .Add({})),
      ingest_(prometheus::BuildCounter()
                  .Name("iommuvm_ingest_messages_total")
                  .Help("Agent data messages committed, by kind")
                  .Register(*registry_)),
      duplicates_(prometheus::BuildCounter()
                      .Name("iommuvm_ingest_duplicates_total")
                      .Help("Agent data messages received again and ignored")
                      .Register(*registry_)
                      .Add({})),
      samples_(prometheus::BuildCounter()
                   .Name("iommuvm_metric_samples_total")
                   .Help("Telemetry samples stored")
                   .Register(*registry_)
                   .Add({})),
      attempts_ended_(prometheus::BuildCounter()
                          .Name("iommuvm_attempts_ended_total")
                          .Help("Attempts that reached a terminal state, by state")
                          .Register(*registry_)) {
  for (const char* s : {"PENDING", "ACTIVE", "SUCCEEDED", "FAILED", "CANCELLED"}) {
    run_gauges_[s] = &runs_.Add({{"state", s}});
  }
}

void ControllerMetrics::SetRunsByState(const std::map<std::string, int64_t>& counts) {
  std::lock_guard lock(mu_);
  for (auto& [state, gauge] : run_gauges_) {
    auto it = counts.find(state);
    gauge->Set(it == counts.end() ? 0 : static_cast<double>(it->second));
  }
}

void ControllerMetrics::SetAgentsConnected(int64_t n) {
  agents_connected_.Set(static_cast<double>(n));
}

void ControllerMetrics::CountIngest(const std::string& kind, bool duplicate) {
  if (duplicate) {
    duplicates_.Increment();
  } else {
    ingest_.Add({{"kind", kind}}).Increment();
  }
}

void ControllerMetrics::CountSamples(uint64_t n) { samples_.Increment(static_cast<double>(n)); }

void ControllerMetrics::CountAttemptEnd(const std::string& state) {
  attempts_ended_.Add({{"state", state}}).Increment();
}

}  // namespace iommuvm
