#include "controller/service/proto_convert.h"

#include <array>
#include <map>
#include <optional>
#include <unordered_map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/cpu_list.h"
#include "results/bottleneck.h"

namespace iommuvm::service {
namespace {

std::optional<double> EvidenceNumber(const store::AttemptRecord& a, const std::string& key) {
  auto it = a.evidence.find(key);
  double v = 0;
  if (it == a.evidence.end() || !absl::SimpleAtod(it->second, &v)) return std::nullopt;
  return v;
}

// The server's CPU over the load window from its telemetry's `means`: its
// pinned cores when it was pinned (`pinned` set), else the node's.
std::optional<double> ServerCpu(const std::map<std::string, double>& means, bool* pinned) {
  for (const char* name : {"server_cores_cpu_utilization", "node_cpu_utilization"}) {
    auto m = means.find(name);
    if (m == means.end()) continue;
    *pinned = std::string(name) == "server_cores_cpu_utilization";
    return m->second;
  }
  return std::nullopt;
}

// The limits the client measured (its evidence) beside the server's CPU.
results::BottleneckInputs BottleneckInputsOf(const store::AttemptRecord& a,
                                             std::optional<double> server_cpu, bool pinned) {
  results::BottleneckInputs in;
  in.link = EvidenceNumber(a, "load.link_utilization");
  if (auto mbps = EvidenceNumber(a, "load.link_speed_mbps")) in.link_gbps = *mbps / 1000;
  in.generator = EvidenceNumber(a, "load.generator_busy");
  in.server_cpu = server_cpu;
  in.server_pinned = pinned;
  return in;
}

// The metrics a row is made of (their means over the load window).
const std::vector<std::string> kRowMetrics = {"server_cores_cpu_utilization",
                                              "node_cpu_utilization",
                                              "node_interrupts_total_per_second",
                                              "node_network_packets_per_second",
                                              "iommu_maps_per_second",
                                              "iommu_unmaps_per_second",
                                              "iommu_invalidations_per_second",
                                              "server_cores_cpu_softirq"};

}  // namespace

v1::Experiment ToProto(const store::ExperimentRecord& e,
                       const std::map<store::RunState, int64_t>& counts) {
  v1::Experiment out;
  out.set_id(e.id);
  out.set_name(e.name);
  out.set_state(store::ToApi(e.state));
  out.set_spec_sha256(e.spec_sha256);
  out.set_created_ms(absl::ToUnixMillis(e.created));
  if (e.finished) out.set_finished_ms(absl::ToUnixMillis(*e.finished));
  auto count = [&](store::RunState s) {
    auto it = counts.find(s);
    return it == counts.end() ? 0u : static_cast<uint32_t>(it->second);
  };
  uint32_t total = 0;
  for (const auto& [state, n] : counts) total += static_cast<uint32_t>(n);
  out.set_runs_total(total);
  out.set_runs_succeeded(count(store::RunState::kSucceeded));
  out.set_runs_failed(count(store::RunState::kFailed));
  out.set_runs_cancelled(count(store::RunState::kCancelled));
  out.set_runs_active(count(store::RunState::kActive));
  return out;
}

void AddRuns(const std::vector<store::RunRecord>& runs,
             const std::vector<store::AttemptRecord>& attempts, v1::Experiment* out) {
  auto latest = store::LatestAttempts(attempts);
  std::map<int64_t, uint32_t> attempt_counts;
  for (const auto& a : attempts) ++attempt_counts[a.run_id];
  for (const auto& r : runs) {
    v1::Run* run = out->add_runs();
    run->set_id(r.id);
    run->set_index(r.point.index);
    run->set_iommu(r.point.iommu);
    run->set_workload(r.point.workload);
    run->set_vm(r.point.vm);
    run->set_repetition(r.point.repetition);
    run->set_state(store::ToApi(r.state));
    run->set_error(r.error);
    run->mutable_params()->insert(r.point.params.begin(), r.point.params.end());
    run->set_attempts(attempt_counts[r.id]);
    if (auto it = latest.find(r.id); it != latest.end()) {
      const store::AttemptRecord& a = *it->second;
      run->set_attempt_state(store::ToApi(a.state));
      run->set_server_node(a.server_node);
      run->set_client_node(a.client_node);
      if (run->error().empty()) run->set_error(a.error);
      for (const auto& [k, v] : a.evidence) (*run->mutable_evidence())[k] = v;
    }
  }
}

v1::Agent ToProto(const scheduler::AgentView& a) {
  v1::Agent out;
  out.set_agent_id(a.node.agent_id);
  for (v1::Role r : a.node.roles) out.add_roles(r);
  for (const auto& [k, v] : a.node.labels) (*out.mutable_labels())[k] = v;
  // The API shows what dispatch sees: BUSY and LOST on top of the stored health.
  using store::NodeHealth;
  v1::NodeHealth health = store::ToApi(a.node.health);
  if (a.node.health == NodeHealth::kReady && a.busy) health = v1::NODE_HEALTH_BUSY;
  if (a.node.health != NodeHealth::kQuarantined && !a.connected) health = v1::NODE_HEALTH_LOST;
  // A guest lives as long as its host keeps it: not running is not an
  // outage (a guest lost mid-run fails its attempt all the same).
  if (!a.connected && a.node.labels.count(store::kParentLabel)) health = v1::NODE_HEALTH_STOPPED;
  out.set_health(health);
  out.set_health_reason(a.node.health_reason);
  out.set_iommu_mode(a.node.iommu_mode);
  out.set_cpu_vendor(a.node.cpu_vendor);
  out.set_connected(a.connected);
  out.set_boot_id(a.node.boot_id);
  out.set_kernel_cmdline(a.node.kernel_cmdline);
  out.set_hostname(a.node.hostname);
  out.set_last_seen_ms(absl::ToUnixMillis(a.node.last_seen));
  out.set_data_address(a.node.data_address);
  out.set_rejected_messages(static_cast<uint64_t>(a.rejections.count));
  if (a.rejections.count > 0) {
    out.set_last_rejection(absl::StrCat("seq ", a.rejections.last_seq, ": ",
                                        a.rejections.last_reason));
  }
  return out;
}

std::vector<v1::ResultRow> ToResultRows(const std::vector<store::RunRecord>& runs,
                                        const std::vector<store::AttemptRecord>& attempts,
                                        const std::vector<store::ResultRecord>& results,
                                        store::Store* store) {
  auto latest = LatestAttempts(attempts);
  std::multimap<int64_t, const store::ResultRecord*> by_attempt;
  for (const auto& r : results) by_attempt.emplace(r.attempt_id, &r);
  // The samples of every run's latest attempt, summarized in one go. A
  // pending attempt has sent nothing (most runs of a big experiment that
  // waits): no window.
  std::vector<store::SampleWindow> windows;
  std::unordered_map<int64_t, size_t> window_of;  // by attempt id
  for (const auto& run : runs) {
    auto it = latest.find(run.id);
    if (it == latest.end() || it->second->state == store::AttemptState::kPending) continue;
    window_of[it->second->id] = windows.size();
    windows.push_back(store::SampleWindowOf(*it->second));
  }
  auto summaries = store->SummarizeSamples(windows, kRowMetrics);
  std::vector<v1::ResultRow> rows;
  for (const auto& run : runs) {
    v1::ResultRow base;
    std::array<double, 3> iommu_rates{};  // maps, unmaps, invalidations per second
    double softirq_cores = 0;             // softirq time of the pinned cores, in cores
    int64_t load_window_ms = 0;
    base.set_run_id(run.id);
    base.set_run_index(run.point.index);
    base.set_iommu(run.point.iommu);
    base.set_workload(run.point.workload);
    base.set_vm(run.point.vm);
    base.set_repetition(run.point.repetition);
    base.set_state(store::ToApi(run.state));
    base.set_error(run.error);
    base.mutable_params()->insert(run.point.params.begin(), run.point.params.end());
    auto it = latest.find(run.id);
    if (it != latest.end()) {
      const store::AttemptRecord& a = *it->second;
      base.set_attempt_id(a.id);
      if (base.error().empty()) base.set_error(a.error);
      // The verified mode: the data-plane NIC's group, else all groups.
      for (const char* key : {"verify.detected", "verify.data_mode"}) {
        auto mode = a.evidence.find(key);
        if (mode != a.evidence.end() && !mode->second.empty()) base.set_detected_mode(mode->second);
      }
      auto simulated = a.evidence.find(store::kSimulatedKey);
      base.set_simulated(simulated != a.evidence.end() && simulated->second == "true");
      auto unsteady = a.evidence.find(store::kUnsteadyKey);
      if (unsteady != a.evidence.end()) base.set_unsteady(unsteady->second);
      const store::SampleSummary* summary = nullptr;
      if (auto w = window_of.find(a.id); w != window_of.end() && summaries.ok()) {
        summary = &(*summaries)[w->second];
        base.set_metric_samples(summary->count);
        load_window_ms = windows[w->second].to_ms - windows[w->second].from_ms;
      }
      if (auto host = a.evidence.find(absl::StrCat(store::kHostVerifyPrefix, "detected"));
          host != a.evidence.end()) {
        base.set_host_mode(host->second);
      }
      std::optional<double> server_cpu;
      bool pinned = false;
      if (summary != nullptr) {
        const std::map<std::string, double>& means = summary->means;
        auto mean = [&](const char* name) {
          auto m = means.find(name);
          return m == means.end() ? 0.0 : m->second;
        };
        server_cpu = ServerCpu(means, &pinned);
        base.set_server_cpu_utilization(server_cpu.value_or(0));
        base.set_server_interrupts_per_second(mean("node_interrupts_total_per_second"));
        base.set_server_packets_per_second(mean("node_network_packets_per_second"));
        iommu_rates = {mean("iommu_maps_per_second"), mean("iommu_unmaps_per_second"),
                       mean("iommu_invalidations_per_second")};
        // The pinned cores as the agent resolved them: "36-39 (auto: ...)".
        auto cores = a.evidence.find("server.env.cores");
        if (cores != a.evidence.end()) {
          auto list = ParseCpuList(cores->second.substr(0, cores->second.find(' ')));
          if (list.ok()) softirq_cores = mean("server_cores_cpu_softirq") * list->size();
        }
      }
      if (a.state == store::AttemptState::kSucceeded) {
        results::Bottleneck b = results::JudgeBottleneck(BottleneckInputsOf(a, server_cpu, pinned));
        base.set_bottleneck(b.verdict);
        base.set_bottleneck_evidence(b.evidence);
      }
    }
    auto [first, last] = by_attempt.equal_range(base.attempt_id());
    if (first == last) {
      rows.push_back(std::move(base));
      continue;
    }
    // Per request: the IOMMU work over the load window divided by every
    // request the load made in it, whether its operations ran in turn
    // (redis-benchmark's tests) or mixed (memcaslap's gets and sets).
    double requests = 0;
    for (auto r = first; r != last; ++r) {
      const v1::OperationResult& o = r->second->result;
      requests += o.requests() > 0 ? static_cast<double>(o.requests())
                                   : o.throughput_ops() * o.duration_s();
    }
    double window_s = static_cast<double>(load_window_ms) / 1000;
    for (auto r = first; r != last; ++r) {
      // The last operation takes the base; the others copy it.
      v1::ResultRow row = std::next(r) == last ? std::move(base) : base;
      *row.mutable_result() = r->second->result;
      if (requests > 0 && window_s > 0) {
        row.set_iommu_maps_per_request(iommu_rates[0] * window_s / requests);
        row.set_iommu_unmaps_per_request(iommu_rates[1] * window_s / requests);
        row.set_iommu_invalidations_per_request(iommu_rates[2] * window_s / requests);
        row.set_softirq_us_per_request(softirq_cores * window_s / requests * 1e6);
      }
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

}  // namespace iommuvm::service
