#include "controller/scheduler/scheduler.h"

#include <openssl/evp.h>

#include <google/protobuf/util/json_util.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/units.h"
#include "controller/scheduler/admission.h"
#include "controller/spec/cmdline.h"
#include "controller/scheduler/step_builder.h"
#include "controller/spec/matrix.h"
#include "controller/spec/params.h"
#include "controller/spec/spec_parser.h"

namespace iommuvm::scheduler {
namespace {

using store::AttemptRecord;
using store::AttemptUpdate;
using store::Mutation;

constexpr char kLog[] = "scheduler";

std::string Sha256Hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) absl::StrAppendFormat(&hex, "%02x", digest[i]);
  return hex;
}

const store::NodeRecord* FindNode(const std::vector<store::NodeRecord>& nodes,
                                  const std::string& agent_id) {
  for (const auto& n : nodes) {
    if (n.agent_id == agent_id) return &n;
  }
  return nullptr;
}

bool HasRole(const store::NodeRecord& n, v1::Role role) {
  for (v1::Role r : n.roles) {
    if (r == role) return true;
  }
  return false;
}

// The run's workload with its user-axis values applied.
spec::WorkloadSpec WorkloadOf(const spec::ExperimentSpec& spec, const store::RunRecord& run) {
  return spec::ApplyParams(spec.workloads.at(run.workload), run.params);
}

// An evidence value of a step update ("" when absent).
std::string EvidenceOf(const v1::StepUpdate& u, const std::string& key) {
  auto it = u.evidence().find(key);
  return it == u.evidence().end() ? "" : it->second;
}

store::EventRecord Event(const AttemptRecord& a, const std::string& agent, const std::string& kind,
                         const std::string& message) {
  return store::EventRecord{a.experiment_id, a.run_id, a.id, agent, kind, message};
}

AttemptUpdate Move(const AttemptRecord& a, AttemptState from, AttemptState to) {
  AttemptUpdate u;
  u.attempt_id = a.id;
  u.from = from;
  u.to = to;
  return u;
}

}  // namespace

Scheduler::Scheduler(store::Store* store, service::AgentGateway* gateway, const Clock* clock,
                     ControllerMetrics* metrics, SchedulerOptions options)
    : store_(store), gateway_(gateway), clock_(clock), metrics_(metrics), options_(options) {
  // Known nodes start offline; the grace period counts from now, so agents
  // have time to reconnect after a controller restart.
  auto nodes = store_->ListNodes();
  if (nodes.ok()) {
    for (const auto& n : *nodes) live_[n.agent_id] = LiveNode{false, clock_->Now(), clock_->Now()};
  }
}

uint64_t Scheduler::version() {
  std::lock_guard lock(mu_);
  return version_;
}

uint64_t Scheduler::WaitForChange(uint64_t seen, absl::Duration timeout) {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] { return version_ != seen; });
  return version_;
}

absl::Status Scheduler::Commit(const Mutation& m) {
  ASSIGN_OR_RETURN(store::ApplyOutcome outcome, store_->Apply(m));
  (void)outcome;
  ++version_;
  changed_.notify_all();
  if (metrics_ != nullptr) {
    for (const auto& u : m.attempts) {
      if (IsTerminal(u.to)) metrics_->CountAttemptEnd(std::string(AttemptStateName(u.to)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const spec::ExperimentSpec>> Scheduler::SpecFor(
    int64_t experiment_id) {
  auto it = specs_.find(experiment_id);
  if (it != specs_.end()) return it->second;
  ASSIGN_OR_RETURN(store::ExperimentRecord e, store_->GetExperiment(experiment_id));
  spec::ParseResult parsed = spec::ParseSpec(e.spec_yaml);
  if (!parsed.spec) {
    return absl::DataLossError(absl::StrCat("stored spec of experiment ", experiment_id,
                                            " no longer parses: ",
                                            parsed.errors.front().Format("spec")));
  }
  auto spec = std::make_shared<const spec::ExperimentSpec>(std::move(*parsed.spec));
  specs_[experiment_id] = spec;
  return spec;
}

absl::StatusOr<SubmitResult> Scheduler::Submit(const std::string& spec_yaml) {
  SubmitResult result;
  spec::ParseResult parsed = spec::ParseSpec(spec_yaml);
  if (!parsed.spec) {
    result.errors = std::move(parsed.errors);
    return result;
  }
  {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto nodes, store_->ListNodes());
    result.errors = CheckAgainstNodes(spec_yaml, *parsed.spec, nodes);
    if (!result.errors.empty()) return result;
  }
  store::NewExperiment e;
  e.name = parsed.spec->name;
  e.spec_yaml = spec_yaml;
  e.spec_sha256 = Sha256Hex(spec_yaml);
  for (const spec::RunPoint& p : spec::ExpandMatrix(*parsed.spec)) {
    store::RunRecord r;
    r.index = p.index;
    r.iommu = p.iommu;
    r.workload = p.workload;
    r.vm = p.vm;
    r.repetition = p.repetition;
    r.params = p.params;
    e.runs.push_back(std::move(r));
  }
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(result.experiment_id, store_->CreateExperiment(e));
  ++version_;
  changed_.notify_all();
  Log(kLog, "experiment ", result.experiment_id, " '", e.name, "' submitted with ",
      e.runs.size(), " runs");
  return result;
}

absl::Status Scheduler::Cancel(int64_t experiment_id) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(store::ExperimentRecord e, store_->GetExperiment(experiment_id));
  if (e.state != "QUEUED" && e.state != "RUNNING") return absl::OkStatus();
  ASSIGN_OR_RETURN(auto attempts, store_->ListAttempts(experiment_id));
  for (const AttemptRecord& a : attempts) {
    if (IsTerminal(a.state)) continue;
    RETURN_IF_ERROR(EndAttempt(a, AttemptState::kCancelled, "cancelled by user"));
  }
  queues_.erase(experiment_id);
  Mutation m;
  m.experiments.push_back({experiment_id, "CANCELLED", true});
  return Commit(m);
}

absl::StatusOr<v1::RegisterAck> Scheduler::OnRegister(
    const v1::Register& reg, std::vector<v1::ControllerMessage>* resend) {
  std::lock_guard lock(mu_);
  absl::Time now = clock_->Now();
  store::NodeRecord node;
  ASSIGN_OR_RETURN(auto known, store_->ListNodes());
  if (const auto* existing = FindNode(known, reg.agent_id())) node = *existing;
  node.agent_id = reg.agent_id();
  node.roles.clear();
  for (int r : reg.roles()) node.roles.push_back(static_cast<v1::Role>(r));
  node.labels = std::map<std::string, std::string>(reg.labels().begin(), reg.labels().end());
  node.boot_id = reg.boot_id();
  node.kernel_cmdline = reg.kernel_cmdline();
  node.hostname = reg.inventory().hostname();
  node.data_address = reg.data_address();
  node.cpu_vendor = reg.inventory().cpu_vendor();
  auto iommu = [&](const char* key) {
    auto it = reg.iommu().find(key);
    return it == reg.iommu().end() ? std::string() : it->second;
  };
  node.iommu_mode = iommu("data_mode").empty() ? iommu("detected") : iommu("data_mode");
  node.tools = std::map<std::string, std::string>(reg.software_versions().begin(),
                                                  reg.software_versions().end());
  node.inventory_json.clear();
  (void)google::protobuf::util::MessageToJsonString(reg.inventory(), &node.inventory_json);
  if (node.health != "QUARANTINED") node.health = "READY";
  node.last_seen = now;
  RETURN_IF_ERROR(store_->UpsertNode(node));
  live_[node.agent_id] = LiveNode{true, now, now};
  Log(kLog, "agent ", node.agent_id, " registered (boot ", node.boot_id, ", last acked seq ",
      reg.last_acked_seq(), ")");

  v1::RegisterAck ack;
  ASSIGN_OR_RETURN(uint64_t committed, store_->CommittedSeq(node.agent_id));
  ack.set_committed_seq(committed);
  ack.set_heartbeat_interval_ms(
      static_cast<uint32_t>(absl::ToInt64Milliseconds(options_.heartbeat_interval)));

  // Steps this agent owes us that it is not executing: send them again (the
  // agent skips step ids it already finished).
  std::set<std::string> active(reg.active_step_ids().begin(), reg.active_step_ids().end());
  ASSIGN_OR_RETURN(auto open, store_->ActiveAttempts());
  for (const AttemptRecord& a : open) {
    std::string target;
    ASSIGN_OR_RETURN(std::optional<v1::Step> step, CurrentStep(a, &target));
    if (!step || target != node.agent_id || active.count(step->step_id())) continue;
    v1::ControllerMessage msg;
    *msg.mutable_assign()->mutable_step() = *step;
    resend->push_back(std::move(msg));
  }
  ++version_;
  changed_.notify_all();
  return ack;
}

void Scheduler::OnHeartbeat(const std::string& agent_id) {
  std::lock_guard lock(mu_);
  auto it = live_.find(agent_id);
  if (it != live_.end()) it->second.last_seen = clock_->Now();
}

void Scheduler::OnDisconnect(const std::string& agent_id) {
  std::lock_guard lock(mu_);
  LiveNode& n = live_[agent_id];
  n.connected = false;
  n.disconnected_at = clock_->Now();
  ++version_;
  changed_.notify_all();
  Log(kLog, "agent ", agent_id, " disconnected");
}

absl::StatusOr<std::optional<AttemptRecord>> Scheduler::FindOpen(int64_t attempt_id) {
  auto a = store_->GetAttempt(attempt_id);
  if (absl::IsNotFound(a.status())) return std::optional<AttemptRecord>();
  if (!a.ok()) return a.status();
  if (IsTerminal(a->state)) return std::optional<AttemptRecord>();
  return std::optional<AttemptRecord>(std::move(*a));
}

absl::StatusOr<std::optional<v1::Step>> Scheduler::CurrentStep(const AttemptRecord& a,
                                                               std::string* target_agent) {
  int64_t attempt_id;
  StepKind kind;
  if (!ParseStepId(a.step_id, &attempt_id, &kind)) return std::optional<v1::Step>();
  ASSIGN_OR_RETURN(auto spec, SpecFor(a.experiment_id));
  ASSIGN_OR_RETURN(store::RunRecord run, store_->GetRun(a.run_id));
  const spec::WorkloadSpec& w = WorkloadOf(*spec, run);
  switch (kind) {
    case StepKind::kSwitchMode: {
      *target_agent = a.server_node;
      auto vendor = a.evidence.find("server.cpu_vendor");
      return std::optional<v1::Step>(SwitchModeStep(
          a.id, a.run_id, *spec, run.iommu, vendor == a.evidence.end() ? "" : vendor->second));
    }
    case StepKind::kVerifyMode:
      *target_agent = a.server_node;
      return std::optional<v1::Step>(VerifyModeStep(a.id, a.run_id, *spec, run.iommu));
    case StepKind::kStartServer:
      *target_agent = a.server_node;
      return std::optional<v1::Step>(StartServerStep(a.id, a.run_id, *spec, w));
    case StepKind::kRunLoad:
      *target_agent = a.client_node;
      return std::optional<v1::Step>(
          RunLoadStep(a.id, a.run_id, *spec, w, a.endpoint_host, a.endpoint_port));
    case StepKind::kStopServer:
    case StepKind::kCleanup:
      *target_agent = a.server_node;
      return std::optional<v1::Step>(StopServerStep(a.id, a.run_id, *spec, kind));
  }
  return std::optional<v1::Step>();
}

void Scheduler::SendStep(const std::string& agent_id, v1::Step step) {
  v1::ControllerMessage msg;
  *msg.mutable_assign()->mutable_step() = std::move(step);
  if (!gateway_->Send(agent_id, msg)) {
    Log(kLog, "agent ", agent_id, " is offline; step ", msg.assign().step().step_id(),
        " will be sent when it reconnects");
  }
}

absl::Status Scheduler::OnData(const std::string& agent_id, const v1::AgentMessage& msg) {
  std::lock_guard lock(mu_);
  if (msg.seq() == 0) return absl::InvalidArgumentError("data message without a sequence number");
  auto it = live_.find(agent_id);
  if (it != live_.end()) it->second.last_seen = clock_->Now();
  Mutation m;
  m.dedupe = std::make_pair(agent_id, msg.seq());
  std::string kind;
  uint64_t samples = 0;
  switch (msg.body_case()) {
    case v1::AgentMessage::kStepUpdate:
      return HandleStepUpdate(agent_id, msg.seq(), msg.step_update(), "step_update");
    case v1::AgentMessage::kMetricBatch: {
      kind = "metric_batch";
      const v1::MetricBatch& b = msg.metric_batch();
      ASSIGN_OR_RETURN(auto a, FindOpen(b.attempt_id()));
      if (a && (a->server_node == agent_id || a->client_node == agent_id)) {
        for (const auto& s : b.samples()) m.samples.push_back({a->id, agent_id, s});
        samples = m.samples.size();
      } else {
        Log(kLog, "ignoring late metric batch of attempt ", b.attempt_id(), " from ", agent_id);
      }
      break;
    }
    case v1::AgentMessage::kRunResult: {
      kind = "run_result";
      const v1::RunResult& r = msg.run_result();
      ASSIGN_OR_RETURN(auto a, FindOpen(r.attempt_id()));
      if (a && a->state == AttemptState::kRunning && a->step_id == r.step_id() &&
          a->client_node == agent_id) {
        for (const auto& op : r.operations()) {
          m.results.push_back({a->id, a->run_id, r.tool(), r.tool_version(), op});
        }
        m.artifacts.push_back({a->id, r.tool() + ".out", r.raw_output()});
      } else {
        Log(kLog, "ignoring stale result of step ", r.step_id(), " from ", agent_id);
      }
      break;
    }
    default:
      return absl::InvalidArgumentError("unexpected data message");
  }
  ASSIGN_OR_RETURN(store::ApplyOutcome outcome, store_->Apply(m));
  ++version_;
  changed_.notify_all();
  if (metrics_ != nullptr) {
    metrics_->CountIngest(kind, outcome == store::ApplyOutcome::kDuplicate);
    if (outcome == store::ApplyOutcome::kApplied) metrics_->CountSamples(samples);
  }
  return absl::OkStatus();
}

absl::Status Scheduler::HandleStepUpdate(const std::string& agent_id, uint64_t seq,
                                         const v1::StepUpdate& u, const std::string& kind_name) {
  Mutation m;
  m.dedupe = std::make_pair(agent_id, seq);
  ASSIGN_OR_RETURN(auto found, FindOpen(u.attempt_id()));
  int64_t parsed_attempt;
  StepKind kind;
  bool current = found && found->step_id == u.step_id() &&
                 ParseStepId(u.step_id(), &parsed_attempt, &kind);
  // The one STARTED update that moves an attempt: a node going down to
  // switch its boot config.
  if (current && u.phase() == v1::StepUpdate::PHASE_STARTED && kind == StepKind::kSwitchMode &&
      found->state == AttemptState::kConfiguringBoot && u.evidence().count("rebooting")) {
    AttemptUpdate up = Move(*found, AttemptState::kConfiguringBoot, AttemptState::kRebooting);
    up.evidence = {{"switch.method", u.evidence().at("rebooting")}};
    m.attempts.push_back(up);
    m.events.push_back(Event(*found, agent_id, "rebooting",
                             absl::StrCat("switching with ", u.evidence().at("rebooting"))));
    if (metrics_) metrics_->CountIngest(kind_name, false);
    return Commit(m);
  }
  current = current && u.phase() != v1::StepUpdate::PHASE_STARTED;
  if (!current) {
    // Late, duplicate or informational: record the sequence number only.
    bool cleanup = ParseStepId(u.step_id(), &parsed_attempt, &kind) && kind == StepKind::kCleanup;
    if (u.phase() != v1::StepUpdate::PHASE_STARTED && !cleanup) {
      Log(kLog, "ignoring stale update of step ", u.step_id(), " from ", agent_id);
    }
    ASSIGN_OR_RETURN(store::ApplyOutcome outcome, store_->Apply(m));
    if (metrics_) metrics_->CountIngest(kind_name, outcome == store::ApplyOutcome::kDuplicate);
    return absl::OkStatus();
  }
  const AttemptRecord& a = *found;
  if (metrics_) metrics_->CountIngest(kind_name, false);
  if (u.phase() == v1::StepUpdate::PHASE_FAILED) {
    AttemptUpdate up = Move(a, a.state, AttemptState::kFailed);
    up.add_samples_reported = u.samples_sent();
    m.attempts.push_back(up);
    return EndAttempt(a, AttemptState::kFailed, absl::StrCat(agent_id, ": ", u.error()), m);
  }
  ASSIGN_OR_RETURN(store::RunRecord run, store_->GetRun(a.run_id));
  switch (kind) {
    case StepKind::kSwitchMode: {
      // Back from the switch: a reboot must have changed the boot id.
      std::string method = EvidenceOf(u, "method");
      std::string before = EvidenceOf(u, "boot_id_before"), after = EvidenceOf(u, "boot_id");
      bool in_place = method == "sysfs" || method == "sim-sysfs";
      if (!in_place && before == after) {
        return EndAttempt(a, AttemptState::kFailed,
                          absl::StrCat(agent_id, ": switched with ", method,
                                       " but the boot id is unchanged (", after,
                                       "): the node did not reboot"),
                          m);
      }
      AttemptUpdate up = Move(a, a.state, AttemptState::kVerifying);
      up.evidence = {{"switch.method", method},
                     {"switch.boot_id_before", before},
                     {"switch.boot_id", after}};
      up.step_id = StepId(a.id, StepKind::kVerifyMode);
      m.attempts.push_back(up);
      m.events.push_back(Event(a, agent_id, "switched",
                               absl::StrCat("with ", method, ", now ",
                                            EvidenceOf(u, "detected"))));
      break;
    }
    case StepKind::kVerifyMode: {
      AttemptUpdate up = Move(a, AttemptState::kVerifying, AttemptState::kPreparing);
      for (const auto& [k, v] : u.evidence()) up.evidence["verify." + k] = v;
      std::string mismatch = EvidenceOf(u, "mismatch");
      if (!mismatch.empty()) {
        up.to = AttemptState::kFailed;
        m.attempts.push_back(up);
        return EndAttempt(a, AttemptState::kFailed, absl::StrCat(agent_id, ": ", mismatch), m);
      }
      up.step_id = StepId(a.id, StepKind::kStartServer);
      m.attempts.push_back(up);
      std::string mode = EvidenceOf(u, "data_mode").empty() ? EvidenceOf(u, "detected")
                                                            : EvidenceOf(u, "data_mode");
      m.events.push_back(Event(a, agent_id, "verified",
                               absl::StrCat(mode, " (", EvidenceOf(u, "groups"), ")")));
      RecordNodeMode(agent_id, mode, EvidenceOf(u, "boot_id"));
      break;
    }
    case StepKind::kStartServer: {
      AttemptUpdate up = Move(a, AttemptState::kPreparing, AttemptState::kRunning);
      up.endpoint = std::make_pair(u.endpoint_host(), u.endpoint_port());
      up.step_id = StepId(a.id, StepKind::kRunLoad);
      up.add_samples_reported = u.samples_sent();
      m.attempts.push_back(up);
      m.events.push_back(Event(a, agent_id, "server_ready",
                               absl::StrCat(run.workload, " listening on ", u.endpoint_host(),
                                            ":", u.endpoint_port())));
      break;
    }
    case StepKind::kRunLoad: {
      ASSIGN_OR_RETURN(auto results, store_->ResultsOfAttempt(a.id));
      if (results.empty()) {
        AttemptUpdate up = Move(a, a.state, AttemptState::kFailed);
        up.add_samples_reported = u.samples_sent();
        m.attempts.push_back(up);
        return EndAttempt(a, AttemptState::kFailed,
                          absl::StrCat(agent_id, ": load generator finished without a result"),
                          m);
      }
      AttemptUpdate up = Move(a, AttemptState::kRunning, AttemptState::kCollecting);
      up.step_id = StepId(a.id, StepKind::kStopServer);
      up.add_samples_reported = u.samples_sent();
      m.attempts.push_back(up);
      break;
    }
    case StepKind::kStopServer: {
      AttemptUpdate up = Move(a, AttemptState::kCollecting, AttemptState::kSucceeded);
      up.add_samples_reported = u.samples_sent();
      m.attempts.push_back(up);
      m.runs.push_back({a.run_id, "SUCCEEDED", ""});
      m.events.push_back(Event(a, agent_id, "attempt_succeeded", "run completed"));
      break;
    }
    case StepKind::kCleanup:
      break;
  }
  RETURN_IF_ERROR(Commit(m));
  return SendCurrentStep(a.id);
}

void Scheduler::RecordNodeMode(const std::string& agent_id, const std::string& mode,
                               const std::string& boot_id) {
  auto nodes = store_->ListNodes();
  if (!nodes.ok()) return;
  const store::NodeRecord* found = FindNode(*nodes, agent_id);
  if (found == nullptr) return;
  store::NodeRecord n = *found;
  n.iommu_mode = mode;
  if (!boot_id.empty()) n.boot_id = boot_id;
  absl::Status s = store_->UpsertNode(n);
  if (!s.ok()) Log(kLog, "cannot record node ", agent_id, "'s mode: ", s.message());
}

absl::Status Scheduler::SendCurrentStep(int64_t attempt_id) {
  ASSIGN_OR_RETURN(store::AttemptRecord a, store_->GetAttempt(attempt_id));
  if (IsTerminal(a.state)) return absl::OkStatus();
  std::string target;
  ASSIGN_OR_RETURN(std::optional<v1::Step> step, CurrentStep(a, &target));
  if (step) SendStep(target, std::move(*step));
  return absl::OkStatus();
}

absl::Status Scheduler::EndAttempt(const AttemptRecord& a, AttemptState to,
                                   const std::string& error, Mutation m) {
  if (m.attempts.empty() || m.attempts.back().attempt_id != a.id) {
    m.attempts.push_back(Move(a, a.state, to));
  }
  m.attempts.back().error = error;
  m.runs.push_back({a.run_id, to == AttemptState::kCancelled ? "CANCELLED" : "FAILED", error});
  m.events.push_back(Event(a, "", std::string(AttemptStateName(to)), error));
  RETURN_IF_ERROR(Commit(m));
  Log(kLog, "attempt ", a.id, " (run ", a.run_id, ") ", AttemptStateName(to), ": ", error);
  ASSIGN_OR_RETURN(auto spec, SpecFor(a.experiment_id));
  SendCleanup(a, *spec);
  return absl::OkStatus();
}

void Scheduler::SendCleanup(const AttemptRecord& a, const spec::ExperimentSpec& spec) {
  if (a.state == AttemptState::kPending || a.state == AttemptState::kAssigned) return;
  v1::ControllerMessage cancel;
  cancel.mutable_cancel()->set_step_id(a.step_id);
  cancel.mutable_cancel()->set_reason("attempt ended");
  for (const std::string& node : {a.server_node, a.client_node}) {
    if (!node.empty()) gateway_->Send(node, cancel);
  }
  if (!a.server_node.empty()) {
    SendStep(a.server_node, StopServerStep(a.id, a.run_id, spec, StepKind::kCleanup));
  }
}

std::optional<std::string> Scheduler::LostNode(const AttemptRecord& a,
                                               const spec::ExperimentSpec& spec, absl::Time now) {
  // A server switching its boot config is expected to vanish for up to the
  // spec's boot timeout.
  bool booting = a.state == AttemptState::kConfiguringBoot || a.state == AttemptState::kRebooting;
  for (const std::string& node : {a.server_node, a.client_node}) {
    if (node.empty()) continue;
    const LiveNode& n = live_[node];
    absl::Time since = n.connected ? n.last_seen : n.disconnected_at;
    absl::Duration grace = booting && node == a.server_node
                               ? std::max(spec.timeouts.boot, options_.agent_grace)
                               : options_.agent_grace;
    if (now - since > grace) return node;
  }
  return std::nullopt;
}

absl::Time Scheduler::Deadline(const AttemptRecord& a, const spec::ExperimentSpec& spec) {
  absl::Duration limit = spec.timeouts.prepare;
  switch (a.state) {
    case AttemptState::kRunning: limit = spec.timeouts.run; break;
    case AttemptState::kCollecting: limit = spec.timeouts.collect; break;
    case AttemptState::kConfiguringBoot:
    case AttemptState::kRebooting: limit = spec.timeouts.boot; break;
    default: break;
  }
  return a.updated + limit + kStepTimeoutSlack;
}

absl::Status Scheduler::LoseAttempt(const AttemptRecord& a, const std::string& node) {
  ASSIGN_OR_RETURN(auto spec, SpecFor(a.experiment_id));
  ASSIGN_OR_RETURN(uint32_t attempts, store_->AttemptCount(a.run_id));
  bool booting = (a.state == AttemptState::kConfiguringBoot ||
                  a.state == AttemptState::kRebooting) && node == a.server_node;
  std::string error =
      booting ? absl::StrCat("node ", node, " did not come back within timeouts.boot (",
                             SpecDuration(std::max(spec->timeouts.boot, options_.agent_grace)),
                             ") after a mode switch")
              : absl::StrCat("node ", node, " lost (no contact for ",
                             SpecDuration(options_.agent_grace), ")");
  Mutation m;
  AttemptUpdate up = Move(a, a.state, AttemptState::kLost);
  up.error = error;
  m.attempts.push_back(up);
  if (attempts <= spec->retries) {
    m.new_attempts.push_back(a.run_id);
    m.runs.push_back({a.run_id, "PENDING", ""});
  } else {
    m.runs.push_back({a.run_id, "FAILED", absl::StrCat(error, "; no retries left")});
  }
  m.events.push_back(Event(a, node, "LOST", error));
  RETURN_IF_ERROR(Commit(m));
  // The retry is a new PENDING attempt the plan does not know yet.
  if (!m.new_attempts.empty()) queues_[a.experiment_id].Invalidate();
  Log(kLog, "attempt ", a.id, " LOST: ", error);

  ASSIGN_OR_RETURN(auto nodes, store_->ListNodes());
  if (const auto* found = FindNode(nodes, node)) {
    store::NodeRecord n = *found;
    ++n.losses;
    if (n.losses >= options_.quarantine_after_losses) n.health = "QUARANTINED";
    RETURN_IF_ERROR(store_->UpsertNode(n));
  }
  SendCleanup(a, *spec);
  return absl::OkStatus();
}

absl::StatusOr<bool> Scheduler::StartAttempt(const AttemptRecord& a, const NodePair& pair) {
  ASSIGN_OR_RETURN(auto spec, SpecFor(a.experiment_id));
  ASSIGN_OR_RETURN(store::RunRecord run, store_->GetRun(a.run_id));
  ASSIGN_OR_RETURN(store::ExperimentRecord exp, store_->GetExperiment(a.experiment_id));
  ASSIGN_OR_RETURN(auto nodes, store_->ListNodes());
  const store::NodeRecord* found = FindNode(nodes, pair.server);
  if (found == nullptr) return absl::NotFoundError(absl::StrCat("unknown node ", pair.server));
  const store::NodeRecord& server = *found;
  Mutation m;
  AttemptUpdate assign = Move(a, AttemptState::kPending, AttemptState::kAssigned);
  assign.nodes = std::make_pair(pair.server, pair.client);
  m.attempts.push_back(assign);
  if (exp.state == "QUEUED") m.experiments.push_back({exp.id, "RUNNING", false});
  m.runs.push_back({a.run_id, "ACTIVE", ""});
  m.events.push_back(Event(a, pair.server, "assigned",
                           absl::StrCat("server ", pair.server, ", client ", pair.client)));

  // Provenance of every attempt: the server as it registered.
  m.attempts.back().evidence = {{"assigned.boot_id", server.boot_id},
                                {"assigned.cmdline", server.kernel_cmdline},
                                {"assigned.iommu_mode", server.iommu_mode},
                                {"server.cpu_vendor", server.cpu_vendor},
                                {"server.inventory", server.inventory_json}};
  if (run.vm != "bare-metal") {
    std::string error = absl::StrCat(
        "vm '", run.vm, "': this controller cannot launch VMs yet; only bare-metal runs execute");
    AttemptUpdate fail = Move(a, AttemptState::kAssigned, AttemptState::kFailed);
    fail.error = error;
    m.attempts.push_back(fail);
    m.runs.back() = {a.run_id, "FAILED", error};
    RETURN_IF_ERROR(Commit(m));
    return false;
  }
  // A node already in the needed mode is not switched (the planner's
  // promise); `current` measures the node as it is. Either way the agent's
  // probe verifies before anything runs.
  bool in_mode = run.iommu == v1::IOMMU_MODE_CURRENT ||
                 server.iommu_mode == spec::IommuModeName(run.iommu);
  AttemptUpdate next = Move(a, AttemptState::kAssigned,
                            in_mode ? AttemptState::kVerifying : AttemptState::kConfiguringBoot);
  next.step_id = StepId(a.id, in_mode ? StepKind::kVerifyMode : StepKind::kSwitchMode);
  m.attempts.push_back(next);
  if (!in_mode) {
    m.events.push_back(Event(a, pair.server, "switching",
                             absl::StrCat(server.iommu_mode.empty() ? "unknown" : server.iommu_mode,
                                          " -> ", spec::IommuModeName(run.iommu))));
  }
  RETURN_IF_ERROR(Commit(m));
  Log(kLog, "attempt ", a.id, " of run ", run.index, " (", run.workload, " rep ",
      run.repetition, ") on ", pair.server, " -> ", pair.client,
      in_mode ? "" : absl::StrCat(", switching to ", spec::IommuModeName(run.iommu)));
  RETURN_IF_ERROR(SendCurrentStep(a.id));
  return true;
}

absl::Status Scheduler::FinishExperiments() {
  ASSIGN_OR_RETURN(auto experiments, store_->ListExperiments());
  for (const auto& e : experiments) {
    if (e.state != "QUEUED" && e.state != "RUNNING") {
      queues_.erase(e.id);
      continue;
    }
    ASSIGN_OR_RETURN(auto counts, store_->RunStateCounts(e.id));
    bool done = true, all_ok = true;
    for (const auto& [state, n] : counts) {
      if (n > 0 && (state == "PENDING" || state == "ACTIVE")) done = false;
      if (n > 0 && state != "SUCCEEDED") all_ok = false;
    }
    if (!done) continue;
    queues_.erase(e.id);
    Mutation m;
    m.experiments.push_back({e.id, all_ok ? "SUCCEEDED" : "FAILED", true});
    RETURN_IF_ERROR(Commit(m));
    Log(kLog, "experiment ", e.id, " ", all_ok ? "SUCCEEDED" : "FAILED");
  }
  return absl::OkStatus();
}

absl::Status Scheduler::Tick() {
  std::lock_guard lock(mu_);
  absl::Time now = clock_->Now();
  ASSIGN_OR_RETURN(auto active, store_->ActiveAttempts());
  std::map<std::string, int64_t> busy;
  for (const AttemptRecord& a : active) {
    ASSIGN_OR_RETURN(auto spec, SpecFor(a.experiment_id));
    if (auto lost = LostNode(a, *spec, now)) {
      RETURN_IF_ERROR(LoseAttempt(a, *lost));
      continue;
    }
    if (now > Deadline(a, *spec)) {
      RETURN_IF_ERROR(EndAttempt(
          a, AttemptState::kFailed,
          absl::StrCat("timed out in ", AttemptStateName(a.state), " after ",
                       SpecDuration(absl::Seconds(absl::ToInt64Seconds(now - a.updated))))));
      continue;
    }
    busy[a.server_node] = a.experiment_id;
    busy[a.client_node] = a.experiment_id;
  }
  ASSIGN_OR_RETURN(auto nodes, store_->ListNodes());
  ASSIGN_OR_RETURN(auto experiments, store_->ListExperiments());
  std::sort(experiments.begin(), experiments.end(),
            [](const auto& x, const auto& y) { return x.id < y.id; });
  std::set<std::string> claimed;
  for (const auto& e : experiments) {
    if (e.state != "QUEUED" && e.state != "RUNNING") continue;
    RETURN_IF_ERROR(Dispatch(e.id, nodes, &busy, &claimed));
  }
  RETURN_IF_ERROR(FinishExperiments());
  UpdateGauges();
  return absl::OkStatus();
}

absl::Status Scheduler::Dispatch(int64_t experiment_id,
                                 const std::vector<store::NodeRecord>& nodes,
                                 std::map<std::string, int64_t>* busy,
                                 std::set<std::string>* claimed) {
  ASSIGN_OR_RETURN(auto spec, SpecFor(experiment_id));
  std::vector<CandidateNode> candidates;
  for (const auto& n : nodes) {
    if (!live_[n.agent_id].connected || n.health == "QUARANTINED" || claimed->count(n.agent_id)) {
      continue;
    }
    candidates.push_back({n.agent_id, HasRole(n, v1::ROLE_SERVER), HasRole(n, v1::ROLE_CLIENT),
                          n.labels});
  }
  PlanQueue& queue = queues_[experiment_id];
  std::vector<NodePair> pairs = FormPairs(spec->nodes, candidates, queue.pairs());
  if (!queue.valid() || pairs != queue.pairs()) {
    RETURN_IF_ERROR(Replan(experiment_id, *spec, nodes, pairs, &queue));
  }
  for (const NodePair& pair : pairs) {
    auto running = [&](int64_t* experiment) {
      for (const std::string& node : {pair.server, pair.client}) {
        auto it = busy->find(node);
        if (it != busy->end()) {
          *experiment = it->second;
          return true;
        }
      }
      return false;
    };
    int64_t running_experiment = 0;
    while (!running(&running_experiment)) {
      std::optional<int64_t> next = queue.Next(pair);
      if (!next) break;
      queue.Pop(pair);
      auto a = store_->GetAttempt(*next);
      if (!a.ok() || a->state != AttemptState::kPending) continue;  // cancelled meanwhile
      ASSIGN_OR_RETURN(bool started, StartAttempt(*a, pair));
      if (started) {
        (*busy)[pair.server] = experiment_id;
        (*busy)[pair.client] = experiment_id;
      }
    }
    if (queue.Queued(pair) > 0 ||
        (running(&running_experiment) && running_experiment == experiment_id)) {
      claimed->insert(pair.server);
      claimed->insert(pair.client);
    }
  }
  return absl::OkStatus();
}

absl::Status Scheduler::Replan(int64_t experiment_id, const spec::ExperimentSpec& spec,
                               const std::vector<store::NodeRecord>& nodes,
                               const std::vector<NodePair>& pairs, PlanQueue* queue) {
  ASSIGN_OR_RETURN(auto attempts, store_->PendingAttempts(experiment_id));
  std::vector<PendingRun> pending;
  if (!attempts.empty()) {
    ASSIGN_OR_RETURN(auto runs, store_->ListRuns(experiment_id));
    std::map<int64_t, const store::RunRecord*> by_id;
    for (const auto& r : runs) by_id[r.id] = &r;
    for (const AttemptRecord& a : attempts) {
      const store::RunRecord& r = *by_id.at(a.run_id);
      PendingRun p;
      p.attempt_id = a.id;
      p.point.iommu = r.iommu;
      p.point.workload = r.workload;
      p.point.vm = r.vm;
      p.point.repetition = r.repetition;
      p.point.params = r.params;
      pending.push_back(std::move(p));
    }
  }
  std::map<NodePair, v1::IommuMode> booted;
  for (const NodePair& pair : pairs) {
    v1::IommuMode mode;
    const store::NodeRecord* n = FindNode(nodes, pair.server);
    if (n != nullptr && spec::ParseIommuModeName(n->iommu_mode, &mode)) booted[pair] = mode;
  }
  queue->Replan(spec, pending, pairs, booted);
  if (!pending.empty() && pairs.empty()) {
    Log(kLog, "experiment ", experiment_id, ": ", pending.size(),
        " pending runs wait for a usable server/client pair");
  } else if (!pending.empty()) {
    Log(kLog, "experiment ", experiment_id, ": planned ", pending.size(), " pending runs on ",
        pairs.size(), " pair(s), estimated ",
        SpecDuration(absl::Seconds(absl::ToInt64Seconds(queue->makespan()))));
  }
  return absl::OkStatus();
}

void Scheduler::UpdateGauges() {
  if (metrics_ == nullptr) return;
  auto counts = store_->RunStateCounts();
  if (counts.ok()) metrics_->SetRunsByState(*counts);
  int64_t connected = 0;
  for (const auto& [_, n] : live_) connected += n.connected ? 1 : 0;
  metrics_->SetAgentsConnected(connected);
}

std::vector<AgentView> Scheduler::Agents() {
  std::lock_guard lock(mu_);
  std::vector<AgentView> out;
  auto nodes = store_->ListNodes();
  auto open = store_->ActiveAttempts();
  if (!nodes.ok()) return out;
  for (const auto& n : *nodes) {
    AgentView v;
    v.node = n;
    v.connected = live_[n.agent_id].connected;
    if (open.ok()) {
      for (const auto& a : *open) {
        if (a.server_node == n.agent_id || a.client_node == n.agent_id) {
          v.busy = true;
        }
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace iommuvm::scheduler
