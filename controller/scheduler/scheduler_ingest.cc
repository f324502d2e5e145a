#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/units.h"
#include "controller/scheduler/decide.h"
#include "controller/scheduler/scheduler.h"
#include "controller/scheduler/scheduler_helpers.h"
#include "controller/scheduler/step_builder.h"
#include "iommu/cmdline.h"
#include "results/steady_state.h"
#include "spec/kernel_axis.h"
#include "spec/spec_parser.h"
#include "spec/workload_catalog.h"

// What agents report: step updates, results and metric batches, and the
// step each attempt's state sends to which node.
namespace iommuvm::scheduler {

using store::AttemptRecord;
using store::AttemptUpdate;
using store::Mutation;

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
      *target_agent = NodeFor(a, kind);
      // The kernel axis: the run's kernel, resolved for this node at assignment.
      std::optional<spec::KernelSpec> kernel;
      if (std::string name = EvidenceOf(a, kKernelNameKey); !name.empty()) {
        kernel = spec::ResolveKernel(*spec, name, EvidenceOf(a, kKernelTargetKey));
      }
      return std::optional<v1::Step>(
          SwitchModeStep(a.id, a.run_id, *spec, run.point.iommu, EvidenceOf(a, "server.cpu_vendor"),
                         EvidenceOf(a, kFreshBootKey) == "true", EvidenceOf(a, kKernelReleaseKey),
                         kernel ? &*kernel : nullptr));
    }
    case StepKind::kSwitchClient:
      // On the client's own vendor and kernel.
      *target_agent = NodeFor(a, kind);
      return std::optional<v1::Step>(ClientSwitchStep(a.id, a.run_id, *spec,
                                                      EvidenceOf(a, "client.cpu_vendor"),
                                                      EvidenceOf(a, "client.kernel_release")));
    case StepKind::kVerifyMode:
      *target_agent = NodeFor(a, kind);
      return std::optional<v1::Step>(
          VerifyModeStep(a.id, a.run_id, *spec, run.point.iommu, EvidenceOf(a, kKernelTargetKey)));
    case StepKind::kLaunchVm: {
      *target_agent = NodeFor(a, kind);
      auto vm = spec->vms.find(run.point.vm);
      if (vm == spec->vms.end()) {
        return absl::FailedPreconditionError(absl::StrCat("run ", run.point.index, ": vm '",
                                                          run.point.vm, "' is not in vms"));
      }
      return std::optional<v1::Step>(
          LaunchVmStep(a.id, a.run_id, *spec, vm->second, store::GuestNodeOf(a)));
    }
    case StepKind::kStartServer: {
      *target_agent = NodeFor(a, kind);
      v1::Step step = StartServerStep(a.id, a.run_id, *spec, w);
      *step.mutable_start_server()->mutable_host() =
          spec->host.For(v1::ROLE_SERVER, LabelsOf(*target_agent));
      return std::optional<v1::Step>(std::move(step));
    }
    case StepKind::kRunLoad: {
      *target_agent = NodeFor(a, kind);
      v1::Step step = RunLoadStep(a.id, a.run_id, *spec, w, a.endpoint_host, a.endpoint_port);
      *step.mutable_run_load()->mutable_host() =
          spec->host.For(v1::ROLE_CLIENT, LabelsOf(*target_agent));
      return std::optional<v1::Step>(std::move(step));
    }
    case StepKind::kStopServer:
    case StepKind::kCleanup:
      *target_agent = NodeFor(a, kind);
      return std::optional<v1::Step>(StopServerStep(a.id, a.run_id, *spec, kind));
  }
  return std::optional<v1::Step>();
}

std::map<std::string, std::string> Scheduler::LabelsOf(const std::string& agent_id) {
  auto nodes = Nodes();
  if (!nodes.ok()) return {};
  const store::NodeRecord* n = FindNode(**nodes, agent_id);
  return n == nullptr ? std::map<std::string, std::string>() : n->labels;
}

void Scheduler::SendStep(const std::string& agent_id, v1::Step step) {
  v1::ControllerMessage msg;
  *msg.mutable_assign()->mutable_step() = std::move(step);
  if (!gateway_->Send(agent_id, msg)) {
    Log(kLog, "agent ", agent_id, " is offline; step ", msg.assign().step().step_id(),
        " will be sent when it reconnects");
  }
}

bool StorageTrouble(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsResourceExhausted(s);
}

void Scheduler::NoteStorage(const absl::Status& s, bool wrote) {
  if (StorageTrouble(s) && !storage_trouble_) {
    storage_trouble_ = true;
    Log(kLog, "the database cannot store (", s.message(),
        "); agents keep their messages and resend them until it can");
  } else if (s.ok() && wrote && storage_trouble_) {
    storage_trouble_ = false;
    Log(kLog, "the database stores again; agents' held messages are being ingested");
  }
}

namespace {

std::string KindOf(const v1::AgentMessage& msg) {
  switch (msg.body_case()) {
    case v1::AgentMessage::kStepUpdate:
      return "step_update";
    case v1::AgentMessage::kMetricBatch:
      return "metric_batch";
    case v1::AgentMessage::kRunResult:
      return "run_result";
    default:
      return "other";
  }
}

}  // namespace

absl::StatusOr<Ingested> Scheduler::OnData(const std::string& agent_id,
                                           const v1::AgentMessage& msg) {
  return OnDataGroup({{agent_id, &msg}}).front();
}

std::vector<absl::StatusOr<Ingested>> Scheduler::OnDataGroup(
    const std::vector<DataMessage>& group) {
  std::lock_guard lock(mu_);
  std::vector<absl::StatusOr<Ingested>> out(group.size(), Ingested{});
  // Agents with a message that was not stored: the rest of theirs in the
  // group are not applied either (they would commit past it).
  std::set<std::string> failed;
  auto skipped = [] {
    return absl::UnavailableError(
        "not applied: an earlier message of this agent could not be stored");
  };
  // Consecutive metric batches, applied in one transaction by flush().
  struct Pending {
    size_t index;
    const SampledAttempt* sampled;  // null: a late batch, its samples dropped
  };
  std::vector<Pending> pending;
  std::vector<Mutation> mutations;
  auto flush = [&] {
    if (mutations.empty()) return;
    std::vector<absl::StatusOr<store::ApplyOutcome>> outcomes = store_->ApplyGroup(mutations);
    for (size_t i = 0; i < pending.size(); ++i) {
      size_t at = pending[i].index;
      const DataMessage& d = group[at];
      if (!outcomes[i].ok()) {
        out[at] = Settle(d.agent_id, *d.msg, outcomes[i].status());
        if (!out[at].ok()) failed.insert(d.agent_id);
        continue;
      }
      bool applied = *outcomes[i] == store::ApplyOutcome::kApplied;
      if (metrics_ != nullptr) {
        metrics_->CountIngest("metric_batch", !applied);
        if (applied) metrics_->CountSamples(mutations[i].samples.size());
        if (applied && pending[i].sampled) {
          ExportLive(*pending[i].sampled, d.agent_id, d.msg->metric_batch());
        }
      }
      out[at] = Settle(d.agent_id, *d.msg, absl::OkStatus());
    }
    pending.clear();
    mutations.clear();
  };
  for (size_t i = 0; i < group.size(); ++i) {
    const DataMessage& d = group[i];
    if (failed.count(d.agent_id)) {
      out[i] = skipped();
      continue;
    }
    if (d.msg->seq() == 0) {
      out[i] = absl::InvalidArgumentError("data message without a sequence number");
      failed.insert(d.agent_id);
      continue;
    }
    liveness_.HeardFrom(d.agent_id);
    absl::Status s;
    if (d.msg->body_case() == v1::AgentMessage::kMetricBatch) {
      Mutation m;
      const SampledAttempt* sampled = nullptr;
      s = PrepareMetricBatch(d.agent_id, *d.msg, &m, &sampled);
      if (s.ok()) {
        pending.push_back({i, sampled});
        mutations.push_back(std::move(m));
        continue;
      }
    }
    // Anything else is applied on its own, after what came before it.
    flush();
    if (failed.count(d.agent_id)) {
      out[i] = skipped();
      continue;
    }
    if (d.msg->body_case() != v1::AgentMessage::kMetricBatch) s = Ingest(d.agent_id, *d.msg);
    out[i] = Settle(d.agent_id, *d.msg, s);
    if (!out[i].ok()) failed.insert(d.agent_id);
  }
  flush();
  return out;
}

absl::Status Scheduler::PrepareMetricBatch(const std::string& agent_id, const v1::AgentMessage& msg,
                                           Mutation* m, const SampledAttempt** sampled) {
  m->dedupe = std::make_pair(agent_id, msg.seq());
  const v1::MetricBatch& b = msg.metric_batch();
  ASSIGN_OR_RETURN(*sampled, SampledAttemptOf(b.attempt_id()));
  const SampledAttempt* a = *sampled;
  if (a && a->server_node != agent_id && a->client_node != agent_id && a->guest_node != agent_id) {
    ASSIGN_OR_RETURN(store::AttemptRecord record, store_->GetAttempt(b.attempt_id()));
    return NotItsNode(record, agent_id);
  }
  if (a) {
    for (const auto& s : b.samples()) m->samples.push_back({b.attempt_id(), agent_id, s});
  } else {
    Log(kLog, "ignoring late metric batch of attempt ", b.attempt_id(), " from ", agent_id);
  }
  return absl::OkStatus();
}

absl::StatusOr<Ingested> Scheduler::Settle(const std::string& agent_id, const v1::AgentMessage& msg,
                                           const absl::Status& s) {
  NoteStorage(s, /*wrote=*/true);
  if (s.ok() || StorageTrouble(s)) return s.ok() ? absl::StatusOr<Ingested>(Ingested{}) : s;
  // It can never be applied: record why (with its sequence number, so a
  // resent copy is a duplicate) and let the agent drop it.
  Mutation m;
  m.dedupe = std::make_pair(agent_id, msg.seq());
  m.rejection = store::RejectionRecord{agent_id, msg.seq(), KindOf(msg), std::string(s.message())};
  ASSIGN_OR_RETURN(store::ApplyOutcome outcome, store_->Apply(m));
  if (outcome == store::ApplyOutcome::kDuplicate) {
    // A resent copy of a message already applied or already rejected.
    if (metrics_ != nullptr) metrics_->CountIngest(KindOf(msg), true);
    return Ingested{};
  }
  Log(kLog, "rejected message ", msg.seq(), " (", KindOf(msg), ") from ", agent_id, ": ",
      s.message());
  if (metrics_ != nullptr) metrics_->CountRejected(KindOf(msg));
  return Ingested{std::string(s.message())};
}

absl::Status Scheduler::Ingest(const std::string& agent_id, const v1::AgentMessage& msg) {
  Mutation m;
  m.dedupe = std::make_pair(agent_id, msg.seq());
  switch (msg.body_case()) {
    case v1::AgentMessage::kStepUpdate:
      return HandleStepUpdate(agent_id, msg.seq(), msg.step_update(), "step_update");
    case v1::AgentMessage::kRunResult: {
      const v1::RunResult& r = msg.run_result();
      ASSIGN_OR_RETURN(auto a, FindOpen(r.attempt_id()));
      if (a && a->client_node != agent_id) return NotItsNode(*a, agent_id);
      if (a && a->state == AttemptState::kRunning && a->step_id == r.step_id()) {
        // One result set per attempt: a second one (a load run again after
        // a crash) would be counted twice by every comparison.
        ASSIGN_OR_RETURN(auto earlier, store_->ResultsOfAttempt(a->id));
        if (!earlier.empty()) {
          return absl::AlreadyExistsError(
              absl::StrCat("attempt ", a->id, " already has a result set; refusing a second"));
        }
        for (const auto& op : r.operations()) {
          m.results.push_back({a->id, a->run_id, r.tool(), r.tool_version(), op});
        }
        if (r.load_ended_ms() > r.load_started_ms()) {
          m.evidence.emplace_back(a->id, kLoadStartedKey, absl::StrCat(r.load_started_ms()));
          m.evidence.emplace_back(a->id, kLoadEndedKey, absl::StrCat(r.load_ended_ms()));
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
    metrics_->CountIngest("run_result", outcome == store::ApplyOutcome::kDuplicate);
  }
  return absl::OkStatus();
}

absl::StatusOr<const Scheduler::SampledAttempt*> Scheduler::SampledAttemptOf(int64_t attempt_id) {
  if (auto it = sampled_.find(attempt_id); it != sampled_.end()) return &it->second;
  ASSIGN_OR_RETURN(auto a, FindOpen(attempt_id));
  if (!a) return nullptr;
  ASSIGN_OR_RETURN(store::RunRecord run, store_->GetRun(a->run_id));
  SampledAttempt s;
  s.server_node = a->server_node;
  s.client_node = a->client_node;
  s.guest_node = store::GuestNodeOf(*a);
  s.live.attempt_id = a->id;
  s.live.experiment_id = run.experiment_id;
  s.live.run_index = run.point.index;
  s.live.workload = run.point.workload;
  s.live.iommu = iommu::IommuModeName(run.point.iommu);
  s.live.vm = run.point.vm;
  s.live.simulated = EvidenceOf(*a, kSimulatedKey) == "true";
  return &sampled_.emplace(attempt_id, std::move(s)).first->second;
}

void Scheduler::ExportLive(const SampledAttempt& a, const std::string& agent_id,
                           const v1::MetricBatch& batch) {
  // A dual-role node serving itself counts as the server.
  std::string role = a.server_node == agent_id || a.guest_node == agent_id ? "server" : "client";
  for (const auto& s : batch.samples()) metrics_->SetLive(a.live, agent_id, role, s);
}

absl::Status Scheduler::HandleStepUpdate(const std::string& agent_id, uint64_t seq,
                                         const v1::StepUpdate& u, const std::string& kind_name) {
  Mutation m;
  m.dedupe = std::make_pair(agent_id, seq);
  ASSIGN_OR_RETURN(auto found, FindOpen(u.attempt_id()));
  int64_t parsed_attempt;
  StepKind kind;
  bool parsed = ParseStepId(u.step_id(), &parsed_attempt, &kind);
  if (found && parsed && agent_id != NodeFor(*found, kind)) return NotItsNode(*found, agent_id);
  bool current = found && found->step_id == u.step_id() && parsed;
  // A STARTED update moves an attempt only when Decide says so (a node
  // going down to switch its boot config).
  if (current && u.phase() == v1::StepUpdate::PHASE_STARTED) {
    Decision d = Decide(*found, kind, agent_id, u, StepFacts{});
    if (d.from != d.to) {
      if (metrics_) metrics_->CountIngest(kind_name, false);
      return Apply(*found, agent_id, u, d, std::move(m));
    }
  }
  current = current && u.phase() != v1::StepUpdate::PHASE_STARTED;
  if (!current) {
    // Late, duplicate or informational: record the sequence number only.
    bool cleanup = ParseStepId(u.step_id(), &parsed_attempt, &kind) && kind == StepKind::kCleanup;
    if (u.phase() != v1::StepUpdate::PHASE_STARTED && !cleanup) {
      Log(kLog, "ignoring stale update of step ", u.step_id(), " from ", agent_id);
    }
    // A failed attempt's server logs are what explains it: keep them.
    if (cleanup && u.phase() != v1::StepUpdate::PHASE_STARTED) {
      m.cleanups_done.push_back(parsed_attempt);
      for (const auto& [name, content] : u.artifacts()) {
        m.artifacts.push_back({parsed_attempt, name, content});
      }
    }
    ASSIGN_OR_RETURN(store::ApplyOutcome outcome, store_->Apply(m));
    if (metrics_) metrics_->CountIngest(kind_name, outcome == store::ApplyOutcome::kDuplicate);
    return absl::OkStatus();
  }
  const AttemptRecord& a = *found;
  if (metrics_) metrics_->CountIngest(kind_name, false);
  // The few facts a decision needs from the store; the rest is Decide's.
  StepFacts facts;
  store::RunRecord run;
  if (u.phase() == v1::StepUpdate::PHASE_SUCCEEDED) {
    ASSIGN_OR_RETURN(run, store_->GetRun(a.run_id));
    facts.workload = run.point.workload;
    facts.guest = store::GuestNodeOf(a);
    if (!facts.guest.empty()) {
      ASSIGN_OR_RETURN(auto spec, SpecFor(a.experiment_id));
      if (auto vm = spec->vms.find(run.point.vm); vm != spec->vms.end()) {
        facts.guest_mode = vm->second.guest_iommu;
      }
      if (auto probe = registered_probes_.find(facts.guest); probe != registered_probes_.end()) {
        facts.guest_probe = probe->second;
      }
    }
    if (kind == StepKind::kRunLoad) {
      ASSIGN_OR_RETURN(auto results, store_->ResultsOfAttempt(a.id));
      facts.has_result = !results.empty();
    }
    // Every server sample of the load arrived before this update (one
    // agent's messages are applied in order): judge the load now.
    if (kind == StepKind::kStopServer) facts.load = JudgeLoadOf(a);
  }
  Decision d = Decide(a, kind, agent_id, u, facts);
  if (d.verified) {
    // The repetitions verified in this boot (order.repetitions_across_boots).
    auto& served = boot_repetitions_[agent_id];
    if (served.first != d.verified->boot_id()) served = {d.verified->boot_id(), {}};
    served.second.insert(
        {a.experiment_id, run.point.iommu, run.point.repetition, spec::KernelOf(run.point)});
  }
  return Apply(a, agent_id, u, d, std::move(m));
}

absl::Status Scheduler::Apply(const AttemptRecord& a, const std::string& agent_id,
                              const v1::StepUpdate& u, const Decision& d, Mutation m) {
  if (d.from != d.to || d.error) {
    AttemptUpdate up = Move(a, d.from, d.to);
    up.evidence = d.evidence;
    up.endpoint = d.endpoint;
    if (d.next) up.step_id = StepId(a.id, *d.next);
    if (d.count_samples) CountSamples(a, agent_id, u, &up);
    m.attempts.push_back(std::move(up));
  }
  if (d.keep_artifacts) {
    for (const auto& [name, content] : u.artifacts()) m.artifacts.push_back({a.id, name, content});
  }
  for (const auto& [kind, message] : d.events)
    m.events.push_back(Event(a, agent_id, kind, message));
  if (d.error) return EndAttempt(a, AttemptState::kFailed, *d.error, std::move(m), d.transient);
  if (d.run_succeeded) m.runs.push_back({a.run_id, RunState::kSucceeded, ""});
  // A VM run's guest stays up for the next run of its VM config on this
  // host (the agent reuses it); it is stopped when its experiment ends.
  if (d.run_succeeded && !store::GuestNodeOf(a).empty()) {
    idle_guests_[a.server_node] = {a.experiment_id, a.id, a.run_id};
  }
  if (d.verified) RecordNodeMode(agent_id, ProbedMode(*d.verified), d.verified->boot_id());
  if (d.client_switched) {
    RecordNodeMode(agent_id, ProbedMode(*d.client_switched), d.client_switched->boot_id());
  }
  RETURN_IF_ERROR(Commit(m));
  return d.await_node ? absl::OkStatus() : SendCurrentStep(a.id);
}

void Scheduler::CountSamples(const AttemptRecord& a, const std::string& agent_id,
                             const v1::StepUpdate& u, AttemptUpdate* up) {
  // The agent reports its cumulative count; the attempt adds what is new.
  std::string key = absl::StrCat("samples_reported.", agent_id);
  uint64_t before = 0;
  if (auto it = a.evidence.find(key); it != a.evidence.end()) {
    (void)absl::SimpleAtoi(it->second, &before);
  }
  if (u.samples_sent() <= before) return;
  up->add_samples_reported = u.samples_sent() - before;
  up->evidence[key] = absl::StrCat(u.samples_sent());
}

absl::Status Scheduler::NotItsNode(const AttemptRecord& a, const std::string& agent_id) {
  return absl::PermissionDeniedError(absl::StrCat("agent ", agent_id, " is not a node of attempt ",
                                                  a.id, " (server ", a.server_node, ", client ",
                                                  a.client_node, ")"));
}

results::LoadJudgement Scheduler::JudgeLoadOf(const store::AttemptRecord& a) {
  auto spec = SpecFor(a.experiment_id);
  if (!spec.ok()) return {};
  int64_t start = 0, end = 0;
  auto started = a.evidence.find(kLoadStartedKey), ended = a.evidence.find(kLoadEndedKey);
  if (started == a.evidence.end() || ended == a.evidence.end() ||
      !absl::SimpleAtoi(started->second, &start) || !absl::SimpleAtoi(ended->second, &end)) {
    results::LoadJudgement j;
    j.failure =
        "the load generator reported no load window, so server telemetry cannot be "
        "checked";
    return j;
  }
  std::vector<results::RateSample> samples;
  // The server's own counter (in the guest for a VM run); for servers that
  // count no requests, the server node's packets.
  bool requests = true;
  if (auto run = store_->GetRun(a.run_id); run.ok()) {
    auto w = (*spec)->workloads.find(run->point.workload);
    const spec::AppInfo* app =
        w == (*spec)->workloads.end() ? nullptr : spec::FindApp(w->second.app);
    requests = app == nullptr || app->counts_requests;
  }
  auto series =
      store_->SeriesOf(a.id, NodeFor(a, StepKind::kStopServer),
                       requests ? "server_requests_per_second" : "node_network_packets_per_second");
  if (series.ok()) {
    for (const auto& [ts, value] : *series) samples.push_back({ts, value});
  }
  return results::JudgeLoad(
      samples, start, end, absl::ToInt64Milliseconds((*spec)->telemetry.interval),
      (*spec)->telemetry.unsteady_below_pct, requests ? "requests/s" : "packets/s");
}

void Scheduler::RecordNodeMode(const std::string& agent_id, const std::string& mode,
                               const std::string& boot_id) {
  auto nodes = Nodes();
  if (!nodes.ok()) return;
  const store::NodeRecord* found = FindNode(**nodes, agent_id);
  if (found == nullptr) return;
  store::NodeRecord n = *found;
  n.iommu_mode = mode;
  if (!boot_id.empty()) n.boot_id = boot_id;
  absl::Status s = SaveNode(n);
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

}  // namespace iommuvm::scheduler
