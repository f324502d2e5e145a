#include "bench/sim_agent.h"

#include <algorithm>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace iommuvm::bench {
namespace {

// How long the real agent waits for its STARTED update to be acked before
// it reboots anyway.
constexpr absl::Duration kRebootPatience = absl::Seconds(3);
// A request-bounded load (redis-benchmark) lasts its requests at this rate.
constexpr double kSimOpsPerSecond = 100000;

// Names and labels of node telemetry, as the agent's collectors name them;
// a batch cycles through them after its first, role-specific sample.
struct SampleKind {
  std::string name;
  std::map<std::string, std::string> labels;
};

const std::vector<SampleKind>& NodeSampleKinds() {
  static const auto* kinds = [] {
    auto* k = new std::vector<SampleKind>;
    for (int cpu = 0; cpu < 16; ++cpu) {
      for (const char* mode : {"user", "system"}) {
        k->push_back({"node_cpu_utilization", {{"cpu", absl::StrCat(cpu)}, {"mode", mode}}});
      }
    }
    for (int cpu = 0; cpu < 8; ++cpu) {
      k->push_back({"node_interrupts_per_second", {{"cpu", absl::StrCat(cpu)}}});
    }
    for (const char* dir : {"receive", "transmit"}) {
      for (const char* what : {"packets", "bytes", "drops"}) {
        k->push_back({absl::StrCat("node_network_", dir, "_", what, "_per_second"),
                      {{"interface", "eth1"}}});
      }
    }
    for (const char* type : {"NET_RX", "NET_TX"}) {
      k->push_back({"node_softirqs_per_second", {{"type", type}}});
    }
    k->push_back({"node_memory_used_bytes", {}});
    k->push_back({"node_memory_available_bytes", {}});
    return k;
  }();
  return *kinds;
}

absl::Duration IntervalOf(const v1::Step& step) {
  return step.telemetry_interval_ms() > 0 ? absl::Milliseconds(step.telemetry_interval_ms())
                                          : absl::Seconds(1);
}

std::string NewEpoch() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return absl::StrFormat("%016x", rng());
}

}  // namespace

v1::MetricBatch SimMetricBatch(bool server, const std::string& tool, uint32_t samples, uint64_t n,
                               int64_t ts_ms) {
  auto value = [&](uint64_t i) {
    return static_cast<double>((n * 2654435761u + i * 40503u) % 1000);
  };
  v1::MetricBatch b;
  if (samples == 0) return b;
  v1::MetricSample* first = b.add_samples();
  first->set_timestamp_ms(ts_ms);
  first->set_value(kSimOpsPerSecond + value(0));
  if (server) {
    // What the controller judges the load by: steady, never stalled.
    first->set_name("server_requests_per_second");
  } else {
    first->set_name("load_throughput_ops_per_second");
    (*first->mutable_labels())["tool"] = tool;
  }
  const std::vector<SampleKind>& kinds = NodeSampleKinds();
  for (uint32_t i = 1; i < samples; ++i) {
    const SampleKind& k = kinds[(n + i) % kinds.size()];
    v1::MetricSample* s = b.add_samples();
    s->set_name(k.name);
    for (const auto& [key, v] : k.labels) (*s->mutable_labels())[key] = v;
    s->set_timestamp_ms(ts_ms);
    s->set_value(value(i));
  }
  return b;
}

SimAgent::SimAgent(std::string id, v1::Role role, SimAgentConfig config, SimNodeFacts* facts)
    : id_(std::move(id)), role_(role), config_(std::move(config)), facts_(facts) {
  node_.boot_id = SimNodeFacts::NewBootId();
  epoch_ = NewEpoch();
}

bool SimAgent::WantsSession(absl::Time now) const {
  if (in_session_ || stopped_ || !failure_.empty()) return false;
  return !connected_once_ || (back_at_ && now >= *back_at_);
}

v1::AgentMessage SimAgent::Hello() {
  v1::AgentMessage msg;
  v1::Register* reg = msg.mutable_register_();
  *reg = facts_->RegisterFor(id_, node_);
  reg->add_roles(role_);
  for (const auto& [k, v] : config_.labels) (*reg->mutable_labels())[k] = v;
  reg->set_data_address(config_.data_address);
  reg->set_last_acked_seq(last_acked_);
  reg->set_outbox_epoch(epoch_);
  if (load_) reg->add_active_step_ids(load_->step.step_id());
  for (const v1::Step& s : queue_) reg->add_active_step_ids(s.step_id());
  in_session_ = true;
  connected_once_ = true;
  registered_ = ending_ = false;
  back_at_.reset();
  return msg;
}

void SimAgent::OnMessage(const v1::ControllerMessage& msg, absl::Time now) {
  switch (msg.body_case()) {
    case v1::ControllerMessage::kRegisterAck: {
      const v1::RegisterAck& ack = msg.register_ack();
      registered_ = true;
      ++counters_.sessions;
      if (!first_registered_) first_registered_ = now;
      heartbeat_ = ack.heartbeat_interval_ms() > 0 ? absl::Milliseconds(ack.heartbeat_interval_ms())
                                                   : absl::Seconds(2);
      next_heartbeat_ = now + heartbeat_;
      uint64_t committed = ack.committed_seq();
      if (ack.new_outbox()) {
        // Our numbers are new to the controller: continue after its own.
        for (auto& m : pending_) m.set_seq(++committed);
      } else {
        while (!pending_.empty() && pending_.front().seq() <= committed) pending_.pop_front();
        last_acked_ = std::max(last_acked_, committed);
      }
      next_seq_ = std::max(next_seq_, committed + 1);
      break;
    }
    case v1::ControllerMessage::kAck: {
      auto it = unacked_.find(msg.ack().seq());
      if (it == unacked_.end()) break;
      ++counters_.acked;
      if (it->second.has_metric_batch()) {
        counters_.samples_acked += it->second.metric_batch().samples_size();
      }
      if (!msg.ack().rejected().empty()) {
        ++counters_.rejected;
        last_rejection_ = absl::StrCat("seq ", msg.ack().seq(), ": ", msg.ack().rejected());
      }
      last_acked_ = std::max(last_acked_, msg.ack().seq());
      unacked_.erase(it);
      break;
    }
    case v1::ControllerMessage::kAssign: {
      const v1::Step& step = msg.assign().step();
      // A step id is executed at most once (the controller resends steps).
      if (done_steps_.count(step.step_id()) || (load_ && load_->step.step_id() == step.step_id()))
        break;
      for (const v1::Step& q : queue_) {
        if (q.step_id() == step.step_id()) return;
      }
      queue_.push_back(step);
      RunQueued(now);
      break;
    }
    case v1::ControllerMessage::kCancel: {
      const std::string& id = msg.cancel().step_id();
      if (load_ && load_->step.step_id() == id) {
        EndLoad(now, "load cancelled");
        RunQueued(now);
      }
      std::erase_if(queue_, [&](const v1::Step& s) { return s.step_id() == id; });
      break;
    }
    default:
      break;
  }
}

bool SimAgent::Tick(absl::Time now) {
  bool work = false;
  if (load_ && now >= load_->ends) {
    EndLoad(now, "");
    RunQueued(now);
    work = true;
  }
  if (!registered_ || ending_) return false;
  if (now >= next_heartbeat_) {
    v1::AgentMessage hb;
    hb.mutable_heartbeat()->set_timestamp_ms(absl::ToUnixMillis(now));
    control_.push_back(std::move(hb));
    ++counters_.heartbeats;
    next_heartbeat_ = now + heartbeat_;
    work = true;
  }
  if (WindowOpen()) {
    work |= !pending_.empty();
    for (const auto& [attempt, s] : servers_) work |= config_.flood || now >= s.next;
    if (load_source_ && now >= load_->started) work |= config_.flood || now >= load_source_->next;
  }
  return work;
}

std::optional<v1::AgentMessage> SimAgent::NextWrite(absl::Time now) {
  if (!in_session_ || !registered_ || ending_) return std::nullopt;
  if (!control_.empty()) {
    v1::AgentMessage m = std::move(control_.front());
    control_.pop_front();
    return m;
  }
  if (!WindowOpen()) return std::nullopt;
  if (pending_.empty()) {
    std::optional<v1::AgentMessage> batch = MakeBatch(now);
    if (!batch) return std::nullopt;
    Enqueue(std::move(*batch));
  }
  v1::AgentMessage m = std::move(pending_.front());
  pending_.pop_front();
  unacked_.emplace(m.seq(), m);
  ++counters_.data_sent;
  return m;
}

bool SimAgent::EndSessionNow(absl::Time now) {
  if (!in_session_) return false;
  if (stopped_ || ending_) return true;
  if (reboot_ && registered_) {
    bool delivered = !unacked_.count(reboot_->started_seq) && reboot_->started_seq <= last_acked_;
    if (delivered || now >= reboot_->deadline) ending_ = true;
  }
  return ending_;
}

void SimAgent::OnSessionEnd(const std::string& error, absl::Time now) {
  bool asked = ending_ || stopped_;
  in_session_ = registered_ = ending_ = false;
  control_.clear();
  // What was written and not acked goes again, before anything newer.
  std::deque<v1::AgentMessage> again;
  for (auto& [seq, m] : unacked_) again.push_back(std::move(m));
  unacked_.clear();
  for (auto& m : pending_) again.push_back(std::move(m));
  pending_ = std::move(again);
  if (stopped_) return;
  if (reboot_ && asked) {
    // The boot: servers and loads die with the node; the next boot's agent
    // reports the switch as its first data message.
    node_ = reboot_->result.next;
    servers_.clear();
    load_.reset();
    load_source_.reset();
    queue_.clear();
    v1::AgentMessage done;
    *done.mutable_step_update() = reboot_->result.after;
    Enqueue(std::move(done));
    reboot_.reset();
    back_at_ = now + config_.reboot_time;
    return;
  }
  failure_ = error.empty() ? "the controller ended the session" : error;
}

void SimAgent::Stop() {
  stopped_ = true;
  ending_ = true;
}

bool SimAgent::streaming() const {
  return registered_ && (!servers_.empty() || (load_source_.has_value() && load_.has_value()));
}

uint64_t SimAgent::Enqueue(v1::AgentMessage msg) {
  uint64_t seq = next_seq_++;
  msg.set_seq(seq);
  pending_.push_back(std::move(msg));
  return seq;
}

void SimAgent::Finish(const v1::Step& step, const std::string& error, bool transient,
                      v1::StepUpdate update) {
  update.set_step_id(step.step_id());
  update.set_attempt_id(step.attempt_id());
  update.set_samples_sent(samples_stored_[step.attempt_id()]);
  if (error.empty()) {
    update.set_phase(v1::StepUpdate::PHASE_SUCCEEDED);
  } else {
    update.set_phase(v1::StepUpdate::PHASE_FAILED);
    update.set_error(error);
    update.set_transient(transient);
  }
  v1::AgentMessage msg;
  *msg.mutable_step_update() = std::move(update);
  Enqueue(std::move(msg));
  done_steps_.insert(step.step_id());
  ++counters_.steps;
}

void SimAgent::RunQueued(absl::Time now) {
  // One step at a time, as the agent's executor; a node going down runs none.
  while (!load_ && !reboot_ && !queue_.empty()) {
    v1::Step step = std::move(queue_.front());
    queue_.pop_front();
    Execute(step, now);
  }
}

void SimAgent::Execute(const v1::Step& step, absl::Time now) {
  switch (step.kind_case()) {
    case v1::Step::kVerifyMode: {
      agent::NodeControl::Probed probed =
          facts_->Probe(node_, step.verify_mode().expected(), step.verify_mode().kernel_release());
      v1::StepUpdate u;
      *u.mutable_probe() = std::move(probed.report);
      for (const auto& [k, v] : probed.evidence) (*u.mutable_evidence())[k] = v;
      return Finish(step, "", false, std::move(u));
    }
    case v1::Step::kSwitchMode:
      return SwitchMode(step, now);
    case v1::Step::kStartServer: {
      servers_[step.attempt_id()] = Source{step.step_id(), step.attempt_id(), IntervalOf(step), now,
                                           step.start_server().app()};
      v1::StepUpdate u;
      u.set_endpoint_host(config_.data_address);
      u.set_endpoint_port(step.start_server().port() > 0 ? step.start_server().port() : 6379);
      return Finish(step, "", false, std::move(u));
    }
    case v1::Step::kRunLoad: {
      const v1::RunLoad& l = step.run_load();
      absl::Duration length =
          l.duration_ms() > 0
              ? absl::Milliseconds(l.duration_ms())
              : std::max(absl::Seconds(1), absl::Seconds(l.requests() / kSimOpsPerSecond));
      absl::Time started = now + absl::Milliseconds(l.warmup_ms());
      load_ = Load{step, started, started + length};
      load_source_ = Source{step.step_id(), step.attempt_id(), IntervalOf(step), started, ""};
      return;
    }
    case v1::Step::kStopServer:
      return StopServer(step);
    case v1::Step::kLaunchVm:
      return Finish(step, "a simulated agent boots no guests", false, {});
    default:
      return Finish(step, "this agent does not know that kind of step", false, {});
  }
}

void SimAgent::SwitchMode(const v1::Step& step, absl::Time now) {
  SimSwitch result = facts_->Switch(node_, step);
  if (!result.error.empty()) return Finish(step, result.error, false, {});
  v1::StepUpdate u;
  *u.mutable_switch_outcome() = result.outcome;
  for (const auto& [k, v] : result.evidence) (*u.mutable_evidence())[k] = v;
  if (!result.reboot) {
    node_ = result.next;
    return Finish(step, "", false, std::move(u));
  }
  // Going down: STARTED (the step counts as handled, so a resent copy after
  // the boot is not run again), then the reboot once it is acked.
  u.set_step_id(step.step_id());
  u.set_attempt_id(step.attempt_id());
  u.set_phase(v1::StepUpdate::PHASE_STARTED);
  v1::AgentMessage msg;
  *msg.mutable_step_update() = std::move(u);
  uint64_t seq = Enqueue(std::move(msg));
  done_steps_.insert(step.step_id());
  reboot_ = Reboot{seq, now + kRebootPatience, std::move(result)};
}

void SimAgent::StopServer(const v1::Step& step) {
  v1::StepUpdate u;
  auto it = servers_.find(step.attempt_id());
  if (it != servers_.end()) {
    (*u.mutable_artifacts())[it->second.app + ".log"] = "simulated server: nothing ran\n";
    servers_.erase(it);
  } else if (!step.stop_server().cleanup()) {
    return Finish(step,
                  absl::StrCat("the server of attempt ", step.attempt_id(),
                               " is gone: this agent restarted while it ran, so the run "
                               "cannot count"),
                  true, {});
  }
  Finish(step, "", false, std::move(u));
}

void SimAgent::EndLoad(absl::Time now, const std::string& error) {
  Load load = std::move(*load_);
  load_.reset();
  load_source_.reset();
  if (!error.empty()) return Finish(load.step, error, false, {});
  const v1::RunLoad& l = load.step.run_load();
  double seconds = std::max(absl::ToDoubleSeconds(now - load.started), 0.001);
  v1::AgentMessage msg;
  v1::RunResult* r = msg.mutable_run_result();
  r->set_step_id(load.step.step_id());
  r->set_attempt_id(load.step.attempt_id());
  r->set_tool(l.tool());
  r->set_tool_version("simulated");
  r->set_raw_output("simulated load: no generator ran\n");
  r->set_load_started_ms(absl::ToUnixMillis(load.started));
  r->set_load_ended_ms(absl::ToUnixMillis(now));
  std::vector<std::string> ops(l.tests().begin(), l.tests().end());
  if (ops.empty()) ops.push_back("totals");
  for (const std::string& name : ops) {
    v1::OperationResult* o = r->add_operations();
    o->set_operation(name);
    o->set_throughput_ops(kSimOpsPerSecond);
    o->set_latency_mean_us(250);
    o->set_latency_p50_us(240);
    o->set_latency_p99_us(480);
    o->set_requests(static_cast<uint64_t>(kSimOpsPerSecond * seconds));
    o->set_duration_s(seconds);
  }
  Enqueue(std::move(msg));
  v1::StepUpdate u;
  (*u.mutable_evidence())["generator_busy"] = "0.100";
  (*u.mutable_evidence())["generator_threads"] = "1";
  (*u.mutable_evidence())["data_path"] = "not checked: a simulated node";
  Finish(load.step, "", false, std::move(u));
}

std::optional<v1::AgentMessage> SimAgent::MakeBatch(absl::Time now) {
  auto due = [&](const Source& s) { return config_.flood || now >= s.next; };
  Source* server = nullptr;
  for (auto& [attempt, s] : servers_) {
    if (due(s)) {
      server = &s;
      break;
    }
  }
  Source* client =
      load_source_ && now >= load_->started && due(*load_source_) ? &*load_source_ : nullptr;
  if (server == nullptr && client == nullptr) return std::nullopt;
  // Both streaming (a node serving and loading itself): take turns.
  bool from_server = server != nullptr && (client == nullptr || !last_from_server_);
  last_from_server_ = from_server;
  Source& src = from_server ? *server : *client;
  src.next = std::max(src.next + src.interval, now);

  v1::AgentMessage msg;
  v1::MetricBatch* b = msg.mutable_metric_batch();
  *b = SimMetricBatch(from_server, from_server ? "" : load_->step.run_load().tool(),
                      config_.samples_per_batch, ++batch_counter_, absl::ToUnixMillis(now));
  b->set_step_id(src.step_id);
  b->set_attempt_id(src.attempt_id);
  samples_stored_[src.attempt_id] += b->samples_size();
  return msg;
}

}  // namespace iommuvm::bench
