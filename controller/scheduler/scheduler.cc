#include "controller/scheduler/scheduler.h"

#include <google/protobuf/util/json_util.h>
#include <openssl/evp.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "controller/scheduler/admission.h"
#include "controller/scheduler/rerun.h"
#include "controller/scheduler/scheduler_helpers.h"
#include "controller/scheduler/step_builder.h"
#include "spec/matrix.h"
#include "spec/spec_parser.h"

// Submission, cancellation, registration and connectivity. The rest of the
// scheduler: scheduler_ingest.cc, scheduler_attempts.cc, scheduler_dispatch.cc.
namespace iommuvm::scheduler {
namespace {

using store::AttemptRecord;
using store::AttemptUpdate;
using store::Mutation;

std::string Sha256Hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) absl::StrAppendFormat(&hex, "%02x", digest[i]);
  return hex;
}

}  // namespace

Scheduler::Scheduler(store::Store* store, service::AgentGateway* gateway, const Clock* clock,
                     ControllerMetrics* metrics, SchedulerOptions options)
    : store_(store),
      gateway_(gateway),
      clock_(clock),
      metrics_(metrics),
      options_(options),
      started_(clock->Now()),
      liveness_(clock, options.agent_grace) {
  // Known nodes start offline; the grace period counts from now, so agents
  // have time to reconnect after a controller restart.
  auto nodes = store_->ListNodes();
  if (nodes.ok()) {
    for (const auto& n : *nodes) liveness_.Known(n.agent_id);
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
  if (!m.runs.empty() || !m.new_runs.empty()) run_counts_stale_ = true;
  for (const auto& u : m.attempts) {
    // Its nodes or its end changed what a metric batch is checked against.
    sampled_.erase(u.attempt_id);
    if (!IsTerminal(u.to) || metrics_ == nullptr) continue;
    metrics_->CountAttemptEnd(std::string(AttemptStateName(u.to)));
    metrics_->EndLive(u.attempt_id);
  }
  return absl::OkStatus();
}

absl::StatusOr<Scheduler::NodesPtr> Scheduler::Nodes() {
  if (nodes_ == nullptr) {
    ASSIGN_OR_RETURN(auto nodes, store_->ListNodes());
    nodes_ = std::make_shared<const std::vector<store::NodeRecord>>(std::move(nodes));
  }
  return nodes_;
}

absl::Status Scheduler::SaveNode(const store::NodeRecord& node) {
  nodes_.reset();  // whether or not the write lands: read afresh
  return store_->UpsertNode(node);
}

absl::StatusOr<std::shared_ptr<const spec::ExperimentSpec>> Scheduler::SpecFor(
    int64_t experiment_id) {
  auto it = specs_.find(experiment_id);
  if (it != specs_.end()) return it->second;
  ASSIGN_OR_RETURN(store::ExperimentRecord e, store_->GetExperiment(experiment_id));
  spec::ParseResult parsed = spec::ParseSpec(e.spec_yaml, UINT64_MAX);
  if (!parsed.spec) {
    return absl::DataLossError(
        absl::StrCat("stored spec of experiment ", experiment_id,
                     " no longer parses: ", parsed.errors.front().Format("spec")));
  }
  auto spec = std::make_shared<const spec::ExperimentSpec>(std::move(*parsed.spec));
  specs_[experiment_id] = spec;
  return spec;
}

absl::StatusOr<SubmitResult> Scheduler::Submit(const std::string& spec_yaml, bool validate_only) {
  SubmitResult result;
  spec::ParseResult parsed = spec::ParseSpec(spec_yaml, options_.max_runs_per_experiment);
  if (!parsed.spec) {
    result.errors = std::move(parsed.errors);
    return result;
  }
  {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(NodesPtr nodes, Nodes());
    result.errors = CheckAgainstNodes(spec_yaml, *parsed.spec, *nodes);
    if (!result.errors.empty()) return result;
    result.warnings = NumaWarnings(spec_yaml, *parsed.spec, *nodes);
  }
  if (validate_only) return result;
  store::NewExperiment e;
  e.name = parsed.spec->name;
  e.spec_yaml = spec_yaml;
  e.spec_sha256 = Sha256Hex(spec_yaml);
  std::vector<spec::RunPoint> points = spec::ExpandMatrix(*parsed.spec);
  e.runs.reserve(points.size());
  for (spec::RunPoint& p : points) {
    store::RunRecord r;
    r.point = std::move(p);
    e.runs.push_back(std::move(r));
  }
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(result.experiment_id, store_->CreateExperiment(e));
  run_counts_stale_ = true;
  ++version_;
  changed_.notify_all();
  Log(kLog, "experiment ", result.experiment_id, " '", e.name, "' submitted with ", e.runs.size(),
      " runs");
  return result;
}

absl::Status Scheduler::Cancel(int64_t experiment_id) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(store::ExperimentRecord e, store_->GetExperiment(experiment_id));
  if (e.state != ExperimentState::kQueued && e.state != ExperimentState::kRunning)
    return absl::OkStatus();
  ASSIGN_OR_RETURN(auto attempts, store_->ListAttempts(experiment_id));
  for (const AttemptRecord& a : attempts) {
    if (IsTerminal(a.state)) continue;
    RETURN_IF_ERROR(EndAttempt(a, AttemptState::kCancelled, "cancelled by user"));
  }
  queues_.erase(experiment_id);
  Mutation m;
  m.experiments.push_back({experiment_id, ExperimentState::kCancelled, true});
  RETURN_IF_ERROR(Commit(m));
  return StopIdleGuests(experiment_id);
}

absl::StatusOr<std::vector<uint32_t>> Scheduler::Rerun(int64_t experiment_id, bool failed,
                                                       bool unsteady,
                                                       const std::vector<std::string>& cells) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(auto spec, SpecFor(experiment_id));
  RerunOptions options;
  options.failed = failed;
  options.unsteady = unsteady;
  for (const std::string& c : cells) {
    ASSIGN_OR_RETURN(spec::PartialPoint cell, ParseCell(*spec, c));
    options.cells.push_back(std::move(cell));
  }
  ASSIGN_OR_RETURN(auto runs, store_->ListRuns(experiment_id));
  ASSIGN_OR_RETURN(auto attempts, store_->ListAttempts(experiment_id));
  std::vector<int64_t> selected = SelectRerun(runs, store::LatestAttempts(attempts), options);
  std::vector<uint32_t> indexes;
  if (selected.empty()) return indexes;
  Mutation m;
  for (int64_t run_id : selected) {
    m.new_attempts.push_back(run_id);
    m.runs.push_back({run_id, RunState::kPending, ""});
    for (const auto& r : runs) {
      if (r.id == run_id) indexes.push_back(r.point.index);
    }
  }
  m.experiments.push_back({experiment_id, ExperimentState::kRunning, false});
  RETURN_IF_ERROR(
      AddRuns(experiment_id, std::move(m), "rerun",
              absl::StrCat("runs queued again by the user: ", absl::StrJoin(indexes, " "))));
  return indexes;
}

absl::StatusOr<v1::RegisterAck> Scheduler::OnRegister(const v1::Register& reg,
                                                      std::vector<v1::ControllerMessage>* resend) {
  absl::StatusOr<v1::RegisterAck> ack;
  {
    std::lock_guard lock(mu_);
    ack = Register(reg, resend);
    NoteStorage(ack.status(), /*wrote=*/true);
    if (!ack.ok()) return ack;
  }
  // The agent drops what is at or below committed_seq: it must be on disk
  // before the ack leaves. Synced outside the lock: in a registration storm
  // an fsync each under it held up every other agent (their keepalives
  // went unanswered and their sessions died).
  absl::Status synced = store_->Sync();
  if (!synced.ok()) {
    std::lock_guard lock(mu_);
    NoteStorage(synced, /*wrote=*/true);
    return synced;
  }
  return ack;
}

absl::StatusOr<v1::RegisterAck> Scheduler::Register(const v1::Register& reg,
                                                    std::vector<v1::ControllerMessage>* resend) {
  absl::Time now = clock_->Now();
  store::NodeRecord node;
  // This node only: a registration storm (3,000 agents after a controller
  // restart) must not read every node for each.
  ASSIGN_OR_RETURN(std::optional<store::NodeRecord> existing, store_->GetNode(reg.agent_id()));
  if (existing) node = std::move(*existing);
  std::string earlier_epoch = node.outbox_epoch;
  node.outbox_epoch = reg.outbox_epoch();
  node.simulated = reg.simulated();
  node.agent_id = reg.agent_id();
  node.roles.clear();
  for (int r : reg.roles()) node.roles.push_back(static_cast<v1::Role>(r));
  node.labels = std::map<std::string, std::string>(reg.labels().begin(), reg.labels().end());
  node.boot_id = reg.boot_id();
  node.kernel_cmdline = reg.kernel_cmdline();
  node.hostname = reg.inventory().hostname();
  node.data_address = reg.data_address();
  node.cpu_vendor = reg.inventory().cpu_vendor();
  node.iommu_mode = ProbedMode(reg.probe());
  node.tools = std::map<std::string, std::string>(reg.software_versions().begin(),
                                                  reg.software_versions().end());
  node.inventory_json.clear();
  (void)google::protobuf::util::MessageToJsonString(reg.inventory(), &node.inventory_json);
  if (node.health != NodeHealth::kQuarantined) node.health = NodeHealth::kReady;
  node.last_seen = now;
  RETURN_IF_ERROR(SaveNode(node));
  liveness_.Connected(node.agent_id);
  registered_probes_[node.agent_id] = reg.probe();
  Log(kLog, "agent ", node.agent_id, " registered (boot ", node.boot_id, ", last acked seq ",
      reg.last_acked_seq(), ")");

  v1::RegisterAck ack;
  // Synced by OnRegister before the ack goes out.
  ASSIGN_OR_RETURN(uint64_t committed, store_->CommittedSeq(node.agent_id));
  ack.set_committed_seq(committed);
  // A new state directory under a known id (re-imaged node, another
  // --state_dir): its numbers restart, so it must continue after ours.
  if (committed > 0 && !earlier_epoch.empty() && earlier_epoch != reg.outbox_epoch()) {
    ack.set_new_outbox(true);
    Log(kLog, "agent ", node.agent_id, " has a new outbox (epoch ", reg.outbox_epoch(), ", was ",
        earlier_epoch, "); its messages continue after sequence ", committed);
    // What it did for its attempts in flight (samples sent, steps done) was
    // lost with its state: they cannot count, and are retried.
    ASSIGN_OR_RETURN(auto in_flight, store_->ActiveAttempts());
    for (const AttemptRecord& a : in_flight) {
      if (a.server_node != node.agent_id && a.client_node != node.agent_id) continue;
      ASSIGN_OR_RETURN(AttemptRecord full, store_->GetAttempt(a.id));
      RETURN_IF_ERROR(EndAttempt(full, AttemptState::kFailed,
                                 absl::StrCat("node ", node.agent_id,
                                              " came back with a new state directory: what it "
                                              "did for this attempt was lost"),
                                 {}, /*transient=*/true));
    }
  }
  ack.set_controller_time_ms(absl::ToUnixMillis(clock_->Now()));
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
  // Cleanups of ended attempts this node was away for.
  ASSIGN_OR_RETURN(std::vector<int64_t> owed, store_->CleanupsOwedBy(node.agent_id));
  for (int64_t attempt_id : owed) {
    ASSIGN_OR_RETURN(AttemptRecord a, store_->GetAttempt(attempt_id));
    ASSIGN_OR_RETURN(auto spec, SpecFor(a.experiment_id));
    v1::ControllerMessage msg;
    *msg.mutable_assign()->mutable_step() =
        StopServerStep(a.id, a.run_id, *spec, StepKind::kCleanup);
    resend->push_back(std::move(msg));
  }
  ++version_;
  changed_.notify_all();
  return ack;
}

void Scheduler::OnHeartbeat(const std::string& agent_id) {
  // Not under mu_: recorded as it arrives, even while a commit holds mu_.
  liveness_.HeardFrom(agent_id);
}

void Scheduler::OnDisconnect(const std::string& agent_id) {
  std::lock_guard lock(mu_);
  liveness_.Disconnected(agent_id);
  ++version_;
  changed_.notify_all();
  Log(kLog, "agent ", agent_id, " disconnected");
}

void Scheduler::UpdateGauges() {
  if (metrics_ == nullptr) return;
  metrics_->SetAgentsConnected(liveness_.ConnectedCount());
  // Counting reads every run: only after runs changed, at most once a second.
  absl::Time now = clock_->Now();
  if (!run_counts_stale_ || now - run_counts_at_ < absl::Seconds(1)) return;
  auto counts = store_->RunStateCounts();
  if (!counts.ok()) return;
  metrics_->SetRunsByState(*counts);
  run_counts_stale_ = false;
  run_counts_at_ = now;
}

absl::Status Scheduler::ReleaseAgent(const std::string& agent_id) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(NodesPtr nodes, Nodes());
  const store::NodeRecord* found = FindNode(*nodes, agent_id);
  if (found == nullptr) return absl::NotFoundError(absl::StrCat("no agent '", agent_id, "'"));
  store::NodeRecord n = *found;
  Log(kLog, "agent ", agent_id, " released (was ", n.health, " after ", n.losses, " losses)");
  n.health = NodeHealth::kReady;
  n.health_reason.clear();
  n.losses = 0;
  RETURN_IF_ERROR(SaveNode(n));
  ++version_;
  changed_.notify_all();
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const spec::ExperimentSpec>> Scheduler::SpecOf(
    int64_t experiment_id) {
  std::lock_guard lock(mu_);
  return SpecFor(experiment_id);
}

std::string Scheduler::WaitingReason(int64_t experiment_id) {
  std::lock_guard lock(waiting_mu_);
  auto it = waiting_.find(experiment_id);
  return it == waiting_.end() ? "" : it->second;
}

std::vector<AgentView> Scheduler::Agents() {
  std::lock_guard lock(mu_);
  std::vector<AgentView> out;
  auto nodes = Nodes();
  auto open = store_->ActiveAttempts();
  auto rejections = store_->Rejections();
  if (!nodes.ok()) return out;
  // Once over the attempts, not once per node (1,000 agents, 500 pairs).
  std::set<std::string> busy;
  if (open.ok()) {
    for (const auto& a : *open) busy.insert({a.server_node, a.client_node, store::GuestNodeOf(a)});
  }
  for (const auto& n : **nodes) {
    AgentView v;
    v.node = n;
    v.connected = liveness_.IsConnected(n.agent_id);
    if (rejections.ok() && rejections->count(n.agent_id)) v.rejections = rejections->at(n.agent_id);
    v.busy = busy.count(n.agent_id) > 0;
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace iommuvm::scheduler
