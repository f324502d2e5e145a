#include "controller/metrics.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

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
      rejected_(prometheus::BuildCounter()
                    .Name("iommuvm_ingest_rejected_total")
                    .Help("Agent data messages refused for good (e.g. a second result set "
                          "for an attempt, a message from a node not the attempt's), by kind")
                    .Register(*registry_)),
      attempts_ended_(prometheus::BuildCounter()
                          .Name("iommuvm_attempts_ended_total")
                          .Help("Attempts that reached a terminal state, by state")
                          .Register(*registry_)) {
  using store::RunState;
  for (RunState s : {RunState::kPending, RunState::kActive, RunState::kSucceeded, RunState::kFailed,
                     RunState::kCancelled}) {
    run_gauges_[s] = &runs_.Add({{"state", std::string(store::RunStateName(s))}});
  }
}

void ControllerMetrics::SetRunsByState(const std::map<store::RunState, int64_t>& counts) {
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

void ControllerMetrics::CountRejected(const std::string& kind) {
  rejected_.Add({{"kind", kind}}).Increment();
}

void ControllerMetrics::CountAttemptEnd(const std::string& state) {
  attempts_ended_.Add({{"state", state}}).Increment();
}

namespace {

// Prometheus names: [a-zA-Z_][a-zA-Z0-9_]*.
std::string Sanitized(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
  }
  if (out.empty() || absl::ascii_isdigit(static_cast<unsigned char>(out[0]))) out = "_" + out;
  return out;
}

}  // namespace

std::string ControllerMetrics::LiveName(const std::string& sample_name) {
  return "iommuvm_live_" + Sanitized(sample_name);
}

void ControllerMetrics::SetLive(const LiveRun& run, const std::string& agent_id,
                                const std::string& role, const v1::MetricSample& sample) {
  // The series' key: its labels in a fixed order (a proto map has none).
  std::vector<std::pair<std::string, std::string>> own(sample.labels().begin(),
                                                       sample.labels().end());
  std::sort(own.begin(), own.end());
  std::string key = absl::StrCat(agent_id, "\x1f", role, "\x1f", sample.name());
  for (const auto& [k, v] : own) absl::StrAppend(&key, "\x1f", k, "=", v);
  std::lock_guard lock(mu_);
  auto& series = live_series_[run.attempt_id];
  if (auto known = series.find(key); known != series.end()) {
    known->second.gauge->Set(sample.value());
    return;
  }
  std::map<std::string, std::string> labels = {
      {"agent", agent_id},
      {"role", role},
      {"experiment", absl::StrCat(run.experiment_id)},
      {"run", absl::StrCat(run.run_index)},
      {"workload", run.workload},
      // A simulated node's mode was generated: say so wherever it shows.
      {"iommu", run.simulated ? run.iommu + " (simulated)" : run.iommu},
      {"simulated", run.simulated ? "true" : "false"},
      {"vm", run.vm}};
  for (const auto& [k, v] : own) labels.emplace(Sanitized(k), v);
  std::string name = LiveName(sample.name());
  auto it = live_families_.find(name);
  if (it == live_families_.end()) {
    auto& family = prometheus::BuildGauge()
                       .Name(name)
                       .Help(absl::StrCat("Live '", sample.name(),
                                          "' of running attempts (docs/telemetry.md)"))
                       .Register(*registry_);
    it = live_families_.emplace(name, &family).first;
  }
  prometheus::Gauge& gauge = it->second->Add(labels);
  gauge.Set(sample.value());
  series.emplace(std::move(key), LiveSeries{it->second, &gauge});
}

void ControllerMetrics::EndLive(int64_t attempt_id) {
  std::lock_guard lock(mu_);
  auto it = live_series_.find(attempt_id);
  if (it == live_series_.end()) return;
  // Two keys can name one series (labels equal once sanitized): remove once.
  std::set<prometheus::Gauge*> removed;
  for (auto& [key, s] : it->second) {
    if (removed.insert(s.gauge).second) s.family->Remove(s.gauge);
  }
  live_series_.erase(it);
}

}  // namespace iommuvm
