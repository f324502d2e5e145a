#pragma once
// StepExecutor: runs the typed steps the controller assigns, one at a time
// on one long-lived thread (servers it starts die with that thread, never
// outliving the agent). Every outcome leaves as data messages through the
// Outbox; a step id that already finished is never executed twice.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/node/node_control.h"
#include "agent/session/outbox.h"
#include "agent/telemetry/iommu_pmu_collector.h"
#include "agent/telemetry/sampler.h"
#include "agent/vm/accelerator.h"
#include "agent/vm/guest_vm.h"
#include "agent/workload/server_application.h"
#include "agent/workload/workload_env.h"
#include "common/clock.h"
#include "common/command_runner.h"
#include "common/file_system.h"
#include "iommuvm/v1/agent.pb.h"

namespace iommuvm::agent {

// The agent's side effects, replaced by fakes in tests.
struct AgentDeps {
  // The host's own files: run directories, and the live /proc and /sys the
  // telemetry and host environment read. (Node control reads its sysroot
  // instead: a generated tree on a simulated node.)
  FileSystem* fs = nullptr;
  CommandRunner* runner = nullptr;
  const Clock* clock = nullptr;
  PerfCounters* perf = nullptr;  // for the iommu_pmu collector; null: none
  // What servers and load generators get of these.
  WorkloadEnv workload() const { return WorkloadEnv{runner, fs, clock}; }
};

class StepExecutor {
 public:
  // `node` carries out SwitchMode/VerifyMode; null refuses them. `guests`
  // says where a VM run's guest goes (LaunchVm).
  StepExecutor(AgentDeps deps, std::string state_dir, std::string data_address, Outbox* outbox,
               NodeControl* node = nullptr, GuestHost guests = {});
  // Cancels the running step and stops every server still running.
  ~StepExecutor();

  // Queues `step` unless it is queued, running or already finished.
  void Submit(const v1::Step& step);
  // Cancels a queued or running step (no-op for unknown ids).
  void Cancel(const std::string& step_id);
  // Ids of queued and running steps.
  std::vector<std::string> ActiveStepIds();
  // Waits until no step is queued or running (for tests and shutdown).
  void WaitIdle();

 private:
  struct Server {
    std::unique_ptr<ServerApplication> app;
    std::unique_ptr<Sampler> sampler;
  };
  void Loop();
  void Execute(const v1::Step& step, const std::atomic<bool>* cancel);
  // Creates the attempt's run directory; returns its host path.
  absl::StatusOr<std::string> PrepareRunDir(const v1::Step& step);
  void StartServer(const v1::Step& step);
  // A spec's cores ("auto", "auto:N", a list) as the CPU list they mean on
  // this node, recorded in `u` (env.cores); "" stays "".
  absl::StatusOr<std::string> ResolveCores(const std::string& cores, v1::StepUpdate* u);
  // The interface holding the data address (else the data NIC by flag).
  std::string DataInterface() const;
  // Applies `host` (when it sets anything) and records every knob of the
  // node's environment in `u`'s evidence as env.*; the failure names the
  // knobs that did not hold.
  absl::Status PrepareHost(const v1::HostSettings& host, const std::string& busy_cores,
                           v1::StepUpdate* u);
  void RunLoad(const v1::Step& step, const std::atomic<bool>* cancel);
  void StopServer(const v1::Step& step);
  void SwitchMode(const v1::Step& step);
  void VerifyMode(const v1::Step& step);
  void LaunchVm(const v1::Step& step, const std::atomic<bool>* cancel);
  // Reports the step's outcome: `before` (e.g. its RunResult), then the
  // update, stored with the step marked done in one outbox transaction.
  void Finish(const v1::Step& step, const absl::Status& status, v1::StepUpdate update,
              std::vector<v1::AgentMessage> before = {});
  // Every collector the step asks for, plus the server's own request
  // counter when `app` (the server it just started) is given.
  std::unique_ptr<Sampler> StartSampler(const v1::Step& step, ServerApplication* app = nullptr);
  void Emit(v1::AgentMessage msg);
  // Logs once per change whether the outbox can store messages.
  void NoteOutbox(const absl::Status& s);

  AgentDeps deps_;
  std::string state_dir_;
  std::string data_address_;
  Outbox* outbox_;
  NodeControl* node_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::Step> queue_;
  std::string running_;
  std::atomic<bool> cancel_running_{false};
  std::atomic<bool> stopping_{false};
  std::mutex outbox_mu_;
  bool outbox_ok_ = true;
  bool stop_ = false;
  std::map<int64_t, Server> servers_;  // by attempt id; executor thread only
  GuestHost guests_;
  // The node's guest: at most one (its data address on the bridge is the
  // agent's --vm_guest_address). Executor thread only.
  struct Guest {
    std::string id;
    std::string config;      // its VmConfig, serialized: a LaunchVm of the same reuses it
    int64_t attempt = 0;     // the attempt that last used it: its cleanup stops the guest
    v1::VmOutcome outcome;   // of its launch
    std::unique_ptr<GuestVm> vm;
    // The host's telemetry of the guest (its QEMU's threads) for `attempt`.
    std::unique_ptr<Sampler> sampler;
  };
  // Samples the guest's QEMU threads for the attempt of `step` (a LaunchVm
  // that booted or reused it), ending the previous attempt's sampling.
  void WatchGuest(const v1::Step& step);
  // Hands each batch of samples to the outbox as the step's MetricBatch.
  Sampler::Emit EmitBatchesOf(const v1::Step& step);
  // Stops the guest (if any); its console and QEMU's log go into `u`'s
  // artifacts when given.
  void StopGuest(v1::StepUpdate* u);
  std::optional<Guest> guest_;
  std::optional<Accelerator> kvm_;  // whether KVM works here, once a KVM guest was asked for
  std::thread thread_;
};

}  // namespace iommuvm::agent
