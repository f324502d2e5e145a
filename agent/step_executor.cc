#include "agent/step_executor.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "agent/node/host_environment.h"
#include "agent/node/numa_cpus.h"
#include "agent/paths.h"
#include "agent/telemetry/collectors.h"
#include "agent/telemetry/qemu_threads_collector.h"
#include "agent/telemetry/server_requests_collector.h"
#include "agent/telemetry/tracepoint_collector.h"
#include "agent/workload/data_path.h"
#include "agent/workload/load_generator.h"
#include "agent/workload/load_limits.h"
#include "agent/workload/server_application.h"
#include "common/cpu_list.h"
#include "common/head_and_tail.h"
#include "common/log.h"

namespace iommuvm::agent {
namespace {

// Every sampler of a step samples at the spec's telemetry interval.
absl::Duration TelemetryInterval(const v1::Step& step) {
  return step.telemetry_interval_ms() > 0 ? absl::Milliseconds(step.telemetry_interval_ms())
                                          : absl::Seconds(1);
}

constexpr char kLog[] = "agent";
// How often a step whose outcome could not be stored tries again.
constexpr absl::Duration kOutboxRetry = absl::Seconds(1);
// How long a queued reboot may take to stop the agent (systemd stops every
// unit first; a unit slow to stop holds it for up to its stop timeout).
constexpr absl::Duration kShutdownPatience = absl::Minutes(10);
// Raw tool output kept per run (head and tail): far below the 4 MB a
// gRPC message may have, whatever a tool prints.
constexpr size_t kMaxRawOutput = 1 << 20;

absl::Duration Timeout(const v1::Step& step) {
  return step.timeout_ms() > 0 ? absl::Milliseconds(step.timeout_ms()) : absl::Minutes(10);
}
}  // namespace

StepExecutor::StepExecutor(AgentDeps deps, std::string state_dir, std::string data_address,
                           Outbox* outbox, NodeControl* node, GuestHost guests)
    : deps_(deps),
      state_dir_(std::move(state_dir)),
      data_address_(std::move(data_address)),
      outbox_(outbox),
      node_(node),
      guests_(std::move(guests)),
      thread_([this] { Loop(); }) {}

StepExecutor::~StepExecutor() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    queue_.clear();
    cancel_running_ = true;
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void StepExecutor::Submit(const v1::Step& step) {
  if (outbox_->IsStepDone(step.step_id())) {
    Log(kLog, "step ", step.step_id(), " already finished; not running it again");
    return;
  }
  std::lock_guard lock(mu_);
  if (running_ == step.step_id()) return;
  for (const auto& q : queue_) {
    if (q.step_id() == step.step_id()) return;
  }
  queue_.push_back(step);
  cv_.notify_all();
}

void StepExecutor::Cancel(const std::string& step_id) {
  std::lock_guard lock(mu_);
  if (running_ == step_id) cancel_running_ = true;
  std::erase_if(queue_, [&](const v1::Step& s) { return s.step_id() == step_id; });
  cv_.notify_all();
}

std::vector<std::string> StepExecutor::ActiveStepIds() {
  std::lock_guard lock(mu_);
  std::vector<std::string> ids;
  if (!running_.empty()) ids.push_back(running_);
  for (const auto& q : queue_) ids.push_back(q.step_id());
  return ids;
}

void StepExecutor::WaitIdle() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return queue_.empty() && running_.empty(); });
}

void StepExecutor::Loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) break;
    v1::Step step = std::move(queue_.front());
    queue_.pop_front();
    running_ = step.step_id();
    cancel_running_ = false;
    lock.unlock();
    Execute(step, &cancel_running_);
    lock.lock();
    running_.clear();
    cv_.notify_all();
  }
  lock.unlock();
  for (auto& [attempt, server] : servers_) {
    if (server.sampler) server.sampler->Stop();
    server.app->Stop();
  }
  servers_.clear();
  guest_.reset();  // QEMU is stopped
}

void StepExecutor::Execute(const v1::Step& step, const std::atomic<bool>* cancel) {
  Log(kLog, "executing step ", step.step_id());
  switch (step.kind_case()) {
    case v1::Step::kStartServer:
      return StartServer(step);
    case v1::Step::kRunLoad:
      return RunLoad(step, cancel);
    case v1::Step::kStopServer:
      return StopServer(step);
    case v1::Step::kSwitchMode:
      return SwitchMode(step);
    case v1::Step::kVerifyMode:
      return VerifyMode(step);
    case v1::Step::kLaunchVm:
      return LaunchVm(step, cancel);
    default:
      Finish(step, absl::UnimplementedError("this agent does not know that kind of step"), {});
  }
}

void StepExecutor::Emit(v1::AgentMessage msg) {
  auto seq = outbox_->Enqueue(std::move(msg));
  NoteOutbox(seq.status());
}

void StepExecutor::NoteOutbox(const absl::Status& s) {
  std::lock_guard lock(outbox_mu_);
  if (!s.ok() && outbox_ok_) {
    Log(kLog, "outbox: cannot store messages (", s.message(),
        "); steps wait and retry until it can");
  } else if (s.ok() && !outbox_ok_) {
    Log(kLog, "outbox: storing messages again");
  }
  outbox_ok_ = s.ok();
}

void StepExecutor::Finish(const v1::Step& step, const absl::Status& status, v1::StepUpdate update,
                          std::vector<v1::AgentMessage> before) {
  update.set_step_id(step.step_id());
  update.set_attempt_id(step.attempt_id());
  // Cumulative for the attempt: what this agent's outbox holds for it.
  update.set_samples_sent(outbox_->SamplesStored(step.attempt_id()));
  if (status.ok()) {
    update.set_phase(v1::StepUpdate::PHASE_SUCCEEDED);
  } else {
    update.set_phase(v1::StepUpdate::PHASE_FAILED);
    update.set_error(std::string(status.message()));
    // Unavailable (connection refused/reset, socket timeouts, no route),
    // DeadlineExceeded (a tool hanging on a dead link) and ResourceExhausted
    // (the node's disk is full; the outbox holds this update until it is
    // not) may pass.
    update.set_transient(absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
                         absl::IsResourceExhausted(status));
    Log(kLog, "step ", step.step_id(), " failed: ", status.message());
  }
  v1::AgentMessage msg;
  *msg.mutable_step_update() = std::move(update);
  before.push_back(std::move(msg));
  // The outcome (a result and the update) and "this step is done" are one
  // transaction: a crash in between can neither lose the result nor run
  // the load a second time. A full disk keeps the step unfinished until
  // the outcome can be stored.
  // Fault injection for the faults tier: die the hardest way right after
  // a load's outcome is stored, before the sender can read it.
  std::function<void()> after_commit;
  if (const char* fault = std::getenv("IOMMUVM_FAULT");
      fault != nullptr && std::string(fault) == "kill-after-result" && before.front().has_run_result()) {
    after_commit = [&step] {
      Log(kLog, "fault injection: SIGKILL after the result of ", step.step_id());
      ::kill(::getpid(), SIGKILL);
    };
  }
  while (true) {
    absl::Status s = outbox_->EnqueueStepEnd(before, step.step_id(), after_commit);
    NoteOutbox(s);
    if (s.ok() || stopping_.load()) return;
    absl::SleepFor(kOutboxRetry);
  }
}

std::unique_ptr<Sampler> StepExecutor::StartSampler(const v1::Step& step, ServerApplication* app) {
  std::vector<std::string> names(step.telemetry_collectors().begin(),
                                 step.telemetry_collectors().end());
  std::vector<std::unique_ptr<Collector>> collectors = MakeCollectors(
      names, deps_.fs, deps_.perf, deps_.runner, app != nullptr ? step.start_server().cores() : "");
  if (app != nullptr && app->HasRequestCounter()) {
    collectors.push_back(std::make_unique<ServerRequestsCollector>(app, step.start_server().app()));
  }
  return std::make_unique<Sampler>(std::move(collectors), deps_.clock, TelemetryInterval(step),
                                   EmitBatchesOf(step));
}

Sampler::Emit StepExecutor::EmitBatchesOf(const v1::Step& step) {
  std::string step_id = step.step_id();
  int64_t attempt_id = step.attempt_id();
  return [this, step_id, attempt_id](std::vector<v1::MetricSample> samples) {
    v1::AgentMessage msg;
    v1::MetricBatch* b = msg.mutable_metric_batch();
    b->set_step_id(step_id);
    b->set_attempt_id(attempt_id);
    for (auto& s : samples) *b->add_samples() = std::move(s);
    Emit(std::move(msg));
  };
}

void StepExecutor::WatchGuest(const v1::Step& step) {
  if (guest_->sampler) guest_->sampler->Stop();
  guest_->sampler.reset();
  int pid = guest_->vm->QemuPid();
  if (pid <= 0) return;
  std::vector<std::unique_ptr<Collector>> collectors;
  collectors.push_back(std::make_unique<QemuThreadsCollector>(deps_.fs, pid));
  // VM exits exist only under KVM (a TCG guest has none to count).
  if (guest_->outcome.accel() == "kvm" && deps_.perf != nullptr) {
    collectors.push_back(std::make_unique<KvmExitCollector>(deps_.fs, deps_.perf));
  }
  guest_->sampler = std::make_unique<Sampler>(std::move(collectors), deps_.clock,
                                              TelemetryInterval(step), EmitBatchesOf(step));
}

absl::StatusOr<std::string> StepExecutor::PrepareRunDir(const v1::Step& step) {
  std::string run_dir = RunDir(state_dir_, step.attempt_id());
  absl::Status s = deps_.fs->MakeDirs(run_dir);
  if (!s.ok()) return s;
  return deps_.fs->HostPath(run_dir);
}

std::string StepExecutor::DataInterface() const {
  return InterfaceWithAddress(data_address_).value_or(guests_.data_nic);
}

absl::Status StepExecutor::PrepareHost(const v1::HostSettings& host, const std::string& busy_cores,
                                       v1::StepUpdate* u) {
  HostEnvironment env(deps_.fs, deps_.runner);
  std::string nic = DataInterface();
  std::map<std::string, std::string> read;
  absl::Status status;
  if (host.ByteSizeLong() == 0) {
    read = env.Snapshot(nic);
  } else {
    auto applied = env.Apply(host, nic, busy_cores);
    if (applied.ok()) {
      read = std::move(applied->env);
      if (!applied->not_held.empty()) {
        (*u->mutable_evidence())["env.not_held"] = absl::StrJoin(applied->not_held, "; ");
      }
    } else {
      status = applied.status();
      read = env.Snapshot(nic);
    }
  }
  for (auto& [k, v] : read) (*u->mutable_evidence())["env." + k] = std::move(v);
  return status;
}

absl::StatusOr<std::string> StepExecutor::ResolveCores(const std::string& cores,
                                                       v1::StepUpdate* u) {
  if (cores.empty()) return cores;
  auto choice = agent::ResolveCpus(*deps_.fs, cores, DataInterface());
  if (!choice.ok()) return choice.status();
  std::string list = FormatCpuList(choice->cpus);
  (*u->mutable_evidence())["env.cores"] = absl::StrCat(list, " (", choice->how, ")");
  return list;
}

void StepExecutor::StartServer(const v1::Step& original) {
  StopGuest(nullptr);  // a bare-metal server never shares the node with a guest
  auto run_dir = PrepareRunDir(original);
  if (!run_dir.ok()) return Finish(original, run_dir.status(), {});
  v1::StepUpdate u;
  // `cores: auto` becomes the CPUs it means here, for the server and its
  // telemetry alike.
  v1::Step step = original;
  auto cores = ResolveCores(step.start_server().cores(), &u);
  if (!cores.ok()) return Finish(step, cores.status(), u);
  step.mutable_start_server()->set_cores(*cores);
  const v1::StartServer& cfg = step.start_server();
  // The node's environment first: applied, read back and recorded.
  if (absl::Status host = PrepareHost(cfg.host(), cfg.cores(), &u); !host.ok()) {
    return Finish(step, host, u);
  }
  auto app = MakeServerApplication(cfg.app(), deps_.workload());
  if (!app.ok()) return Finish(step, app.status(), {});
  auto port = (*app)->Start(cfg, data_address_, *run_dir, Timeout(step));
  if (!port.ok()) return Finish(step, port.status(), {});
  Server& server = servers_[step.attempt_id()];
  server.app = std::move(*app);
  server.sampler = StartSampler(step, server.app.get());
  u.set_endpoint_host(data_address_);
  u.set_endpoint_port(*port);
  Log(kLog, cfg.app(), " for attempt ", step.attempt_id(), " listening on ", data_address_, ":",
      *port);
  Finish(step, absl::OkStatus(), u);
}

void StepExecutor::RunLoad(const v1::Step& original, const std::atomic<bool>* cancel) {
  auto run_dir = PrepareRunDir(original);
  if (!run_dir.ok()) return Finish(original, run_dir.status(), {});
  v1::StepUpdate u;
  v1::Step step = original;
  auto cores = ResolveCores(step.run_load().cores(), &u);
  if (!cores.ok()) return Finish(step, cores.status(), u);
  step.mutable_run_load()->set_cores(*cores);
  const v1::RunLoad& load = step.run_load();
  auto generator = MakeLoadGenerator(load.tool(), deps_.workload());
  if (!generator.ok()) return Finish(step, generator.status(), u);
  if (absl::Status host = PrepareHost(load.host(), load.cores(), &u); !host.ok()) {
    return Finish(step, host, u);
  }
  if (load.warmup_ms() > 0 && !(*generator)->WarmsUpItself()) {
    // Unmeasured load first: time-bounded tools run for the warmup; a
    // request-bounded one is stopped when the warmup is over.
    v1::RunLoad warm = load;
    absl::Duration warmup = absl::Milliseconds(load.warmup_ms());
    bool timed = load.duration_ms() > 0;
    warm.set_duration_ms(load.warmup_ms());
    // When the unmeasured load really ran (a tool overruns its -d): the
    // node was loaded, not idle, until the measured load began.
    (*u.mutable_evidence())["warmup_started_ms"] =
        absl::StrCat(absl::ToUnixMillis(deps_.clock->Now()));
    auto warmed =
        (*generator)->Run(warm, *run_dir, timed ? warmup + Timeout(step) : warmup, cancel);
    (*u.mutable_evidence())["warmup_ended_ms"] =
        absl::StrCat(absl::ToUnixMillis(deps_.clock->Now()));
    Log(kLog, "warmup of attempt ", step.attempt_id(), " done (",
        warmed.ok() ? "ok" : std::string(warmed.status().message()).substr(0, 80), ")");
    if (cancel->load()) return Finish(step, absl::CancelledError("cancelled during warmup"), {});
  }
  std::unique_ptr<Sampler> sampler = StartSampler(step);
  // The tool's own periodic throughput, streamed as it comes.
  Sampler::Emit emit = EmitBatchesOf(step);
  (*generator)
      ->set_progress(
          [&](double ops) {
            v1::MetricSample s =
                MakeSample("load_throughput_ops_per_second", deps_.clock->Now(), ops);
            (*s.mutable_labels())["tool"] = load.tool();
            emit({std::move(s)});
          },
          TelemetryInterval(step));
  // The data path: the interface holding this node's data address, whose
  // counters must show the load's bytes.
  std::optional<std::string> data_if = InterfaceWithAddress(data_address_);
  absl::StatusOr<InterfaceBytes> if_before =
      data_if ? ReadInterfaceBytes(*deps_.fs, *data_if) : absl::NotFoundError("");
  double cpu_before = ChildCpuSeconds();
  int64_t load_started = absl::ToUnixMillis(deps_.clock->Now());
  auto result = (*generator)->Run(load, *run_dir, Timeout(step), cancel);
  int64_t load_ended = absl::ToUnixMillis(deps_.clock->Now());
  double wall_s = static_cast<double>(load_ended - load_started) / 1000;
  sampler->Stop();  // its last batch is stored before the step's outcome
  absl::StatusOr<InterfaceBytes> if_after =
      if_before.ok() ? ReadInterfaceBytes(*deps_.fs, *data_if) : absl::NotFoundError("");
  if (result.ok()) {
    // The client's own limits, for the bottleneck verdict.
    uint32_t threads = (*generator)->Threads(load);
    (*u.mutable_evidence())["generator_busy"] =
        absl::StrFormat("%.3f", GeneratorBusy(ChildCpuSeconds() - cpu_before, wall_s, threads));
    (*u.mutable_evidence())["generator_threads"] = absl::StrCat(threads);
    uint64_t payload = PayloadBytes(*result);
    if (if_before.ok() && if_after.ok() && if_after->rx >= if_before->rx &&
        if_after->tx >= if_before->tx) {
      InterfaceBytes moved{if_after->rx - if_before->rx, if_after->tx - if_before->tx};
      if (auto mbps = LinkSpeedMbps(*deps_.fs, *data_if)) {
        (*u.mutable_evidence())["link_speed_mbps"] = absl::StrCat(*mbps);
        (*u.mutable_evidence())["link_utilization"] =
            absl::StrFormat("%.3f", LinkUtilization(moved.rx, moved.tx, wall_s, *mbps));
      }
      (*u.mutable_evidence())["data_path"] = DescribeDataPath(*data_if, moved.total(), payload);
      absl::Status path = CheckDataPath(*data_if, moved.total(), payload);
      if (!path.ok()) result = path;
    } else {
      (*u.mutable_evidence())["data_path"] =
          absl::StrCat("not checked: no interface counters for ", data_address_);
    }
  }
  std::vector<v1::AgentMessage> outcome;
  if (result.ok()) {
    v1::AgentMessage msg;
    v1::RunResult* r = msg.mutable_run_result();
    r->set_step_id(step.step_id());
    r->set_attempt_id(step.attempt_id());
    r->set_tool(result->tool);
    r->set_tool_version(result->tool_version);
    r->set_raw_output(HeadAndTail(result->raw_output, kMaxRawOutput));
    r->set_load_started_ms(load_started);
    r->set_load_ended_ms(load_ended);
    for (auto& op : result->operations) *r->add_operations() = std::move(op);
    outcome.push_back(std::move(msg));
  }
  // On a client-only node the directory holds generator output, already
  // sent; when this agent also serves the attempt, StopServer removes it.
  if (!servers_.count(step.attempt_id())) {
    (void)deps_.fs->RemoveAll(RunDir(state_dir_, step.attempt_id()));
  }
  Finish(step, result.status(), u, std::move(outcome));
}

void StepExecutor::StopServer(const v1::Step& step) {
  v1::StepUpdate u;
  auto it = servers_.find(step.attempt_id());
  if (it != servers_.end()) {
    if (it->second.sampler) it->second.sampler->Stop();
    bool was_running = it->second.app->Stop();
    servers_.erase(it);
    Log(kLog, "server of attempt ", step.attempt_id(), was_running ? " stopped" : " had exited");
  } else if (!step.stop_server().cleanup()) {
    // Started by an earlier life of this agent, which died mid-run: what
    // the load measured and the telemetry after the death cannot be trusted.
    return Finish(step,
                  absl::UnavailableError(absl::StrCat(
                      "the server of attempt ", step.attempt_id(),
                      " is gone: this agent restarted while it ran, so the run cannot count")),
                  u);
  }
  // A guest goes with the cleanup of the attempt that last used it (a
  // failed one, or the last of its runs).
  if (guest_ && step.stop_server().cleanup() && guest_->attempt == step.attempt_id()) {
    StopGuest(&u);
  }
  // The servers' logs (and a guest's console.log, qemu.log) travel with
  // the update (kept as artifacts), also when a failed attempt is cleaned
  // up; then the directory goes.
  std::string dir = RunDir(state_dir_, step.attempt_id());
  if (auto names = deps_.fs->ListDir(dir); names.ok()) {
    for (const std::string& name : *names) {
      if (!absl::EndsWith(name, ".log")) continue;
      (*u.mutable_artifacts())[name] = TailOfFile(*deps_.fs, dir + "/" + name, 64 << 10);
    }
  }
  (void)deps_.fs->RemoveAll(dir);
  Finish(step, absl::OkStatus(), u);
}

void StepExecutor::LaunchVm(const v1::Step& step, const std::atomic<bool>* cancel) {
  auto run_dir = PrepareRunDir(step);
  if (!run_dir.ok()) return Finish(step, run_dir.status(), {});
  // A KVM guest on a node where KVM does not work would crash or crawl and
  // measure nothing: the first KVM launch proves KVM with a probe boot.
  const v1::VmConfig& vm_config = step.launch_vm().vm();
  if (vm_config.accel().empty() || vm_config.accel() == "kvm") {
    if (!kvm_) {
      v1::VmConfig probe;
      probe.set_kernel(vm_config.kernel().empty() ? guests_.guest_dir + "/vmlinuz"
                                                  : vm_config.kernel());
      probe.set_initrd(vm_config.kernel().empty() ? guests_.guest_dir + "/initrd.cpio"
                                                  : vm_config.initrd());
      kvm_ = ChooseAccelerator("/dev/kvm", [&] {
        return ProbeKvmBoot(deps_.runner, deps_.fs, deps_.clock, probe, *run_dir + "/kvm-probe",
                            absl::Seconds(15));
      });
    }
    if (kvm_->name != "kvm") {
      return Finish(step,
                    absl::FailedPreconditionError(absl::StrCat(
                        "the guest asks for accel: kvm, but KVM does not work on this node (",
                        kvm_->reason,
                        "); use a node with VT-x/AMD-V, or accel: tcg (emulation: its numbers "
                        "are not comparable)")),
                    {});
    }
  }
  // The guest of the previous run, when it is this one and still up,
  // serves this run too: one boot for the runs of a VM config.
  std::string config = vm_config.SerializeAsString();
  v1::StepUpdate u;
  if (guest_ && guest_->id == step.launch_vm().guest_id() && guest_->config == config &&
      guest_->vm->Running()) {
    guest_->attempt = step.attempt_id();
    *u.mutable_vm_outcome() = guest_->outcome;
    u.mutable_vm_outcome()->set_reused(true);
    u.mutable_vm_outcome()->set_boot_ms(0);
    WatchGuest(step);
    Log(kLog, "attempt ", step.attempt_id(), ": guest ", guest_->id, " serves it too");
    return Finish(step, absl::OkStatus(), u);
  }
  StopGuest(nullptr);  // another guest, or one that died
  std::string dir = GuestDir(state_dir_);
  if (absl::Status made = deps_.fs->MakeDirs(dir); !made.ok()) return Finish(step, made, {});
  auto vm = std::make_unique<GuestVm>(deps_.runner, deps_.fs, deps_.clock);
  Log(kLog, "attempt ", step.attempt_id(), ": booting guest ", step.launch_vm().guest_id());
  auto outcome = vm->Launch(step.launch_vm(), guests_, step.attempt_id(),
                            deps_.fs->HostPath(dir), Timeout(step), cancel);
  if (!outcome.ok()) {
    (void)deps_.fs->RemoveAll(dir);
    return Finish(step, outcome.status(), {});
  }
  Log(kLog, "attempt ", step.attempt_id(), ": guest ", outcome->guest_id(), " up after ",
      outcome->boot_ms(), " ms (", outcome->accel(), ")");
  guest_ =
      Guest{step.launch_vm().guest_id(), config, step.attempt_id(), *outcome, std::move(vm), {}};
  WatchGuest(step);
  *u.mutable_vm_outcome() = *std::move(outcome);
  Finish(step, absl::OkStatus(), u);
}

void StepExecutor::StopGuest(v1::StepUpdate* u) {
  std::string dir = GuestDir(state_dir_);
  if (guest_) {
    if (guest_->sampler) guest_->sampler->Stop();
    guest_->vm->Stop();
    Log(kLog, "guest ", guest_->id, " (last used by attempt ", guest_->attempt, ") stopped");
    guest_.reset();
  }
  // The libvirt backend's domain is kept as it was defined: the run's
  // machine, exactly.
  for (const char* name : {"console.log", "qemu.log", "domain.xml"}) {
    std::string path = dir + "/" + name;
    if (u != nullptr && deps_.fs->Exists(path)) {
      (*u->mutable_artifacts())[absl::StrCat("guest-", name)] =
          TailOfFile(*deps_.fs, path, 64 << 10);
    }
  }
  (void)deps_.fs->RemoveAll(dir);
}

void StepExecutor::VerifyMode(const v1::Step& step) {
  if (node_ == nullptr) return Finish(step, absl::UnimplementedError("no node control"), {});
  v1::StepUpdate u;
  NodeControl::Probed probed =
      node_->Probe(step.verify_mode().expected(), step.verify_mode().kernel_release());
  *u.mutable_probe() = std::move(probed.report);
  for (const auto& [k, v] : probed.evidence) (*u.mutable_evidence())[k] = v;
  Finish(step, absl::OkStatus(), u);
}

void StepExecutor::SwitchMode(const v1::Step& step) {
  if (node_ == nullptr) return Finish(step, absl::UnimplementedError("no node control"), {});
  StopGuest(nullptr);  // the host changes under it
  auto result = node_->Switch(step);
  if (!result.ok()) return Finish(step, result.status(), {});
  v1::StepUpdate u;
  *u.mutable_switch_outcome() = result->outcome;
  for (const auto& [k, v] : result->evidence) (*u.mutable_evidence())[k] = v;
  if (!result->reboot) return Finish(step, absl::OkStatus(), u);
  // Tell the controller we are going down (the outbox keeps the message if
  // the link drops first), remember the step as handled so a re-sent copy
  // after the boot is not run again, give the session a moment to deliver,
  // then reboot. After the boot NodeControl reports the step's outcome.
  u.set_step_id(step.step_id());
  u.set_attempt_id(step.attempt_id());
  u.set_phase(v1::StepUpdate::PHASE_STARTED);
  v1::AgentMessage msg;
  *msg.mutable_step_update() = u;
  absl::Status stored = outbox_->EnqueueStepEnd({std::move(msg)}, step.step_id());
  NoteOutbox(stored);
  if (!stored.ok()) {
    // Never reboot with an intent nobody will hear of.
    return Finish(
        step, absl::UnavailableError(absl::StrCat("cannot record the switch: ", stored.message())),
        {});
  }
  absl::Time give_up = deps_.clock->Now() + absl::Seconds(3);
  while (deps_.clock->Now() < give_up) {
    auto pending = outbox_->Pending();
    if (!pending.ok() || *pending == 0) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  absl::Status rebooted = node_->Reboot();
  // systemd queued the reboot: the machine goes down in a moment and stops
  // this agent with it. Reporting the switch now would report the boot
  // that is ending (an unchanged boot id) as the new one.
  if (rebooted.ok() && node_->RebootStillToCome()) {
    absl::Time until = deps_.clock->Now() + kShutdownPatience;
    while (!stopping_.load() && deps_.clock->Now() < until) {
      absl::SleepFor(absl::Milliseconds(100));
    }
    if (stopping_.load()) return;  // the shutdown is stopping the agent
    rebooted = absl::DeadlineExceededError(
        absl::StrCat("the reboot was queued, but the node was still up after ",
                     absl::FormatDuration(kShutdownPatience)));
  }
  // Still running: either a simulation without restart (tests) or a failure.
  if (rebooted.ok()) {
    if (auto done = node_->CompletePendingBoot()) {
      v1::AgentMessage after;
      *after.mutable_step_update() = std::move(*done);
      Emit(std::move(after));
    }
    return;
  }
  v1::StepUpdate failed;
  failed.set_step_id(step.step_id());
  failed.set_attempt_id(step.attempt_id());
  failed.set_phase(v1::StepUpdate::PHASE_FAILED);
  failed.set_error(absl::StrCat("reboot failed: ", rebooted.message()));
  v1::AgentMessage fail_msg;
  *fail_msg.mutable_step_update() = std::move(failed);
  Emit(std::move(fail_msg));
}

}  // namespace iommuvm::agent
