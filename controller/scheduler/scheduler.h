#pragma once
// Scheduler: drives every attempt through the state machine. It is the only
// writer of experiment/run/attempt state; every decision is one Mutation
// applied to the Store, and messages to agents go out only after commit.
// Experiments run oldest first, each following its planner's plan
// (plan_queue.h) on its own pairs (pairing.h); a pair with no planned work
// left serves the next experiment. State lives in the Store, so a restarted
// controller resumes by reading it; only connectivity (who is online since
// when) and the plans, which are derived, are kept in memory.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "controller/metrics.h"
#include "controller/scheduler/decide.h"
#include "controller/scheduler/node_liveness.h"
#include "controller/scheduler/pairing.h"
#include "controller/scheduler/plan_queue.h"
#include "controller/service/session_registry.h"
#include "controller/store/attempt_state.h"
#include "controller/store/store.h"
#include "iommuvm/v1/agent.pb.h"
#include "results/steady_state.h"
#include "spec/matrix.h"
#include "spec/spec.h"
#include "spec/spec_error.h"

namespace iommuvm::scheduler {

using store::AttemptState;
using store::ExperimentState;
using store::NodeHealth;
using store::RunState;

// Storage trouble that passes (a full disk, an IO error, busy): not the
// message's or the pass's fault. The scheduler logs it once per change;
// callers need not log it again.
bool StorageTrouble(const absl::Status& s);

struct SchedulerOptions {
  // An agent silent or disconnected this long is lost; its attempt is LOST.
  absl::Duration agent_grace = absl::Seconds(15);
  absl::Duration heartbeat_interval = absl::Seconds(2);
  uint32_t quarantine_after_losses = 3;
  // The most runs one submitted spec may expand to.
  uint64_t max_runs_per_experiment = spec::kMaxRunsPerExperiment;
  // Reads the last lines of a node's console (agent id, host name); unset:
  // none can be read. A node that does not come back from a boot is
  // reported with them (controller/node_console.h).
  std::function<absl::StatusOr<std::vector<std::string>>(const std::string&, const std::string&)>
      read_console;
};

struct SubmitResult {
  int64_t experiment_id = 0;  // 0 when rejected
  spec::SpecErrors errors;
  spec::SpecErrors warnings;
};

// What became of one data message the controller took.
struct Ingested {
  std::string rejected;  // non-empty: refused for good, with the reason
};

// A data message and the agent whose session it came on.
struct DataMessage {
  std::string agent_id;
  const v1::AgentMessage* msg;
};

struct AgentView {
  store::NodeRecord node;
  bool connected = false;
  bool busy = false;
  store::RejectionSummary rejections;
};

class Scheduler {
 public:
  // `metrics` may be null.
  Scheduler(store::Store* store, service::AgentGateway* gateway, const Clock* clock,
            ControllerMetrics* metrics, SchedulerOptions options);

  // Validates and stores a spec; an invalid spec writes nothing.
  // `validate_only`: the checks against the nodes, nothing stored.
  absl::StatusOr<SubmitResult> Submit(const std::string& spec_yaml, bool validate_only = false);
  // Cancels every unfinished run of an experiment.
  absl::Status Cancel(int64_t experiment_id);
  // Queues a new attempt for each ended run `options` selects (rerun.h),
  // reopening the experiment; returns their run indexes (none: nothing to
  // rerun). `cells` are parsed against the experiment's spec.
  absl::StatusOr<std::vector<uint32_t>> Rerun(int64_t experiment_id, bool failed, bool unsteady,
                                              const std::vector<std::string>& cells);

  // An agent opened a session. Returns the ack and the steps it must
  // (re)execute, which the session sends after the ack, in order.
  absl::StatusOr<v1::RegisterAck> OnRegister(const v1::Register& reg,
                                             std::vector<v1::ControllerMessage>* resend);
  void OnHeartbeat(const std::string& agent_id);
  void OnDisconnect(const std::string& agent_id);
  // Ingests one data message. OK means committed, a known duplicate, or
  // refused for good (Ingested::rejected says why; recorded, and the agent
  // must drop it): the caller acks it. An error is storage trouble that
  // passes (full disk, IO error): not acked, so the agent resends it.
  absl::StatusOr<Ingested> OnData(const std::string& agent_id, const v1::AgentMessage& msg);
  // OnData for each of `group`, in order, with one store transaction for
  // consecutive metric batches (the bulk of ingest: one commit for many).
  // An agent's message after one of its own that failed is not applied
  // (it fails too): an agent's messages never commit out of order.
  std::vector<absl::StatusOr<Ingested>> OnDataGroup(const std::vector<DataMessage>& group);

  // Detects lost agents and timeouts, assigns pending attempts to free
  // pairs, finishes experiments. Called periodically and after events.
  // Consoles of nodes not back from a boot are read after the pass, with
  // the lock released, and the loss is declared by the next pass.
  absl::Status Tick();

  std::vector<AgentView> Agents();
  // Quarantined `agent_id` back to READY with no losses; NotFound if unknown.
  absl::Status ReleaseAgent(const std::string& agent_id);
  // Why experiment `id`'s pending runs wait ("" when nothing holds them).
  std::string WaitingReason(int64_t experiment_id);
  // The experiment's spec as parsed (once; kept while the controller runs).
  absl::StatusOr<std::shared_ptr<const spec::ExperimentSpec>> SpecOf(int64_t experiment_id);
  // A counter bumped on every committed change.
  uint64_t version();
  // Waits until version() != seen or `timeout` passes; returns version().
  uint64_t WaitForChange(uint64_t seen, absl::Duration timeout);

 private:
  // What a metric batch of an open attempt is checked against and labelled
  // with (sampled_).
  struct SampledAttempt {
    std::string server_node, client_node, guest_node;
    LiveRun live;
  };
  absl::StatusOr<std::shared_ptr<const spec::ExperimentSpec>> SpecFor(int64_t experiment_id);
  // Every node as stored, read once and kept until a node changes (every
  // pass reads them; 3,000 nodes with their inventories each time cost
  // more than the pass). The scheduler is the nodes' only writer: SaveNode.
  using NodesPtr = std::shared_ptr<const std::vector<store::NodeRecord>>;
  absl::StatusOr<NodesPtr> Nodes();
  absl::Status SaveNode(const store::NodeRecord& node);
  absl::Status Commit(const store::Mutation& m);
  // Why no pair can be formed for `spec` from `nodes` (names each node
  // left out and why).
  std::string WhyNoPair(const spec::ExperimentSpec& spec,
                        const std::vector<store::NodeRecord>& nodes,
                        const std::set<std::string>& claimed);
  std::optional<std::string> LostNode(const store::AttemptRecord& a,
                                      const spec::ExperimentSpec& spec);
  // Whether `node` is the attempt's server, switching its boot config.
  bool Booting(const store::AttemptRecord& a, const std::string& node) const;
  // How long `node` may be silent before the attempt is lost.
  absl::Duration Grace(const store::AttemptRecord& a, const spec::ExperimentSpec& spec,
                       const std::string& node) const;
  absl::Time Deadline(const store::AttemptRecord& a, const spec::ExperimentSpec& spec);
  // Follows one experiment's plan: forms its pairs from the usable nodes
  // not `claimed` by older experiments, re-plans when the pairs changed or
  // a run was retried, starts the next planned attempt on every free pair,
  // and claims the nodes of pairs that still have planned work. `busy`
  // maps a node to the experiment of the attempt running on it.
  absl::Status Dispatch(int64_t experiment_id, const std::vector<store::NodeRecord>& nodes,
                        std::map<std::string, int64_t>* busy, std::set<std::string>* claimed);
  // Whether `node`'s boot `boot_id` already served another repetition of
  // `run`'s experiment and mode.
  bool BootServedOtherRepetition(const std::string& node, const std::string& boot_id,
                                 const store::RunRecord& run);
  absl::Status Replan(int64_t experiment_id, const spec::ExperimentSpec& spec,
                      const std::vector<store::NodeRecord>& nodes,
                      const std::vector<NodePair>& pairs, PlanQueue* queue);
  // Moves a PENDING attempt onto `pair`. False when it ended at once (the
  // node cannot run it), so the pair is still free.
  absl::StatusOr<bool> StartAttempt(const store::AttemptRecord& a, const NodePair& pair);
  // `console`: the last lines of the node's console, read when it did not
  // come back from a boot.
  absl::Status LoseAttempt(const store::AttemptRecord& a, const std::string& node,
                           const std::vector<std::string>& console);
  // Tick's work under the lock.
  absl::Status Pass();
  // Whether the loss of `a` to `node` waits for the node's console to be
  // read (a boot it did not come back from, with read_console set); the
  // first call asks for it.
  bool AwaitingConsole(const store::AttemptRecord& a, const std::string& node);
  // Reads the consoles passes asked for, without the lock.
  void ReadConsoles();
  // After attempt `a` ended transiently (lost, an outage): adds to `m` a
  // retry of its run while the spec's `retries` last (true), else the run
  // FAILED with "; no retries left" (false).
  absl::StatusOr<bool> RetryOrFail(const store::AttemptRecord& a,
                                   const spec::ExperimentSpec& spec, const std::string& error,
                                   store::Mutation& m);
  // Ends an attempt as FAILED (or CANCELLED), with its run, and cleans up.
  // A `transient` failure (an outage, not the setup: a stall the controller
  // saw, or one the agent marked) is retried like a lost node while the
  // spec's `retries` last; otherwise the run fails.
  absl::Status EndAttempt(const store::AttemptRecord& a, AttemptState to,
                          const std::string& error, store::Mutation m = {},
                          bool transient = false);
  void SendCleanup(const store::AttemptRecord& a, const spec::ExperimentSpec& spec);
  // Whether an attempt that ends in its current state leaves anything on
  // its nodes (it got past ASSIGNED).
  static bool NeedsCleanup(const store::AttemptRecord& a);
  // Adds to `m` the cleanup `a` owes its server node.
  static void OweCleanup(const store::AttemptRecord& a, store::Mutation& m);
  // OnData's work for a step update or a result: an error other than
  // storage trouble rejects `msg`.
  absl::Status Ingest(const std::string& agent_id, const v1::AgentMessage& msg);
  // What OnData answers for `msg` after its ingest ended in `s` (mu_ held):
  // a rejection is recorded (with its sequence number) and acked.
  absl::StatusOr<Ingested> Settle(const std::string& agent_id, const v1::AgentMessage& msg,
                                  const absl::Status& s);
  // The samples of a metric batch to store in `m` (none for an attempt
  // that ended: *sampled null); an error rejects the batch.
  absl::Status PrepareMetricBatch(const std::string& agent_id, const v1::AgentMessage& msg,
                                  store::Mutation* m, const SampledAttempt** sampled);
  // Adds to `up` the samples `agent_id` stored for `a` since its last
  // report (StepUpdate.samples_sent is cumulative per agent and attempt).
  static void CountSamples(const store::AttemptRecord& a, const std::string& agent_id,
                           const v1::StepUpdate& u, store::AttemptUpdate* up);
  // The refusal of a message about attempt `a` from an agent not its node.
  // Carries out `d` for the attempt's current step: one transaction, then
  // the next step (or the end of the attempt).
  absl::Status Apply(const store::AttemptRecord& a, const std::string& agent_id,
                     const v1::StepUpdate& u, const Decision& d, store::Mutation m);
  static absl::Status NotItsNode(const store::AttemptRecord& a, const std::string& agent_id);
  absl::Status HandleStepUpdate(const std::string& agent_id, uint64_t seq,
                                const v1::StepUpdate& u, const std::string& kind_name);
  absl::StatusOr<std::optional<v1::Step>> CurrentStep(const store::AttemptRecord& a,
                                                      std::string* target_agent);
  absl::StatusOr<std::optional<store::AttemptRecord>> FindOpen(int64_t attempt_id);
  // What the server's own request rate over the measured load window
  // (reported with the result) says: a failure (no telemetry, a hole, a
  // stall) or an unsteady mark.
  results::LoadJudgement JudgeLoadOf(const store::AttemptRecord& a);
  // The open attempt a metric batch names (nullptr when it has ended or
  // does not exist), from sampled_ or the store.
  absl::StatusOr<const SampledAttempt*> SampledAttemptOf(int64_t attempt_id);
  // Sets the /metrics live gauges from an ingested metric batch.
  void ExportLive(const SampledAttempt& a, const std::string& agent_id,
                  const v1::MetricBatch& batch);
  // An experiment whose runs have all ended, with adaptive repetitions:
  // adds the runs of cells not yet precise enough (adaptive_repetitions.h).
  // True when it added any (the experiment goes on).
  absl::StatusOr<bool> AddRepetitions(int64_t experiment_id);
  // Commits `m` (new runs or attempts of a running experiment) with an
  // event saying `why`, and has the experiment's plan remade.
  absl::Status AddRuns(int64_t experiment_id, store::Mutation m, const std::string& kind,
                       const std::string& why);
  // Ends each open experiment of `experiments` whose runs have all ended.
  absl::Status FinishExperiments(const std::vector<store::ExperimentRecord>& experiments);
  void SendStep(const std::string& agent_id, v1::Step step);
  // A registered node's labels (none when unknown): which host: entries
  // apply to it.
  std::map<std::string, std::string> LabelsOf(const std::string& agent_id);
  // Sends the step an attempt's current state waits for (the one place that
  // decides which step goes to which node), unless the attempt has ended.
  absl::Status SendCurrentStep(int64_t attempt_id);
  void UpdateGauges();
  // The mode (and boot) the node's probe just verified: later assignments
  // skip the switch when it already matches.
  void RecordNodeMode(const std::string& agent_id, const std::string& mode,
                      const std::string& boot_id);

  store::Store* store_;
  service::AgentGateway* gateway_;
  const Clock* clock_;
  ControllerMetrics* metrics_;
  SchedulerOptions options_;
  // When this controller started: a step's deadline never counts the time
  // the controller was down (its agents went on and kept their results).
  absl::Time started_;

  std::mutex mu_;
  std::condition_variable changed_;
  uint64_t version_ = 0;
  NodeLiveness liveness_;  // sessions and last contact of every agent
  // What a metric batch of an open attempt is checked against and labelled
  // with, read once per attempt rather than once per batch (the store read
  // with all its evidence cost more than storing the samples). Dropped when
  // the attempt changes state: a batch after that reads it afresh.
  std::map<int64_t, SampledAttempt> sampled_;
  // The /metrics run-state gauges need a count of every run: taken again
  // only after runs changed, at most once a second.
  bool run_counts_stale_ = true;
  absl::Time run_counts_at_ = absl::InfinitePast();
  std::map<int64_t, std::shared_ptr<const spec::ExperimentSpec>> specs_;
  NodesPtr nodes_;  // Nodes(): null until read, and after a node changed
  // Per server node: the boot its probe last verified, and the (experiment,
  // mode, repetition, kernel) points verified in it
  // (order.repetitions_across_boots).
  std::map<
      std::string,
      std::pair<std::string, std::set<std::tuple<int64_t, v1::IommuMode, uint32_t, std::string>>>>
      boot_repetitions_;
  // Why each experiment's pending runs cannot start (set by Dispatch).
  // Under a lock of its own: a watch reads it without waiting for a
  // scheduling pass (re-planning 100k runs holds mu_ for a quarter second).
  std::mutex waiting_mu_;
  std::map<int64_t, std::string> waiting_;
  // The probe each agent registered with last: a VM run's guest is
  // verified with it (its agent registers once the guest is up).
  std::map<std::string, v1::ProbeReport> registered_probes_;
  // Hosts whose guest stays up after a successful VM run, for the next run
  // of its VM config: the experiment, and the attempt and run that last
  // used it (whose cleanup stops it).
  struct IdleGuest {
    int64_t experiment_id = 0;
    int64_t attempt_id = 0;
    int64_t run_id = 0;
  };
  std::map<std::string, IdleGuest> idle_guests_;
  // Stops the idle guests of `experiment_id` (it ended): the cleanup of the
  // attempt that last used each, owed durably.
  absl::Status StopIdleGuests(int64_t experiment_id);
  // The plan each unfinished experiment follows (rebuilt after a restart).
  std::map<int64_t, PlanQueue> queues_;
  // Per attempt lost to a node not back from a boot: that node's console,
  // read outside the lock (a command on another host may take seconds).
  struct ConsoleRead {
    std::string node;
    bool reading = false;
    bool done = false;
    std::vector<std::string> lines;
  };
  std::map<int64_t, ConsoleRead> consoles_;
  // The database could not store (full or failing disk): logged once when
  // it starts and once when a write succeeds again.
  bool storage_trouble_ = false;
  // Notes the outcome of a store write (`wrote`: `s` OK means it stored).
  void NoteStorage(const absl::Status& s, bool wrote);
  absl::StatusOr<v1::RegisterAck> Register(const v1::Register& reg,
                                           std::vector<v1::ControllerMessage>* resend);
};

}  // namespace iommuvm::scheduler
