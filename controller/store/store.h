#pragma once
// Store: the controller's only state. Everything the scheduler decides is
// written as one Mutation, applied atomically; agent data carries a dedupe
// key (agent id, sequence number) so redelivered messages change nothing.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "controller/store/states.h"
#include "iommuvm/v1/common.pb.h"
#include "spec/spec.h"

namespace iommuvm::store {

struct ExperimentRecord {
  int64_t id = 0;
  std::string name;
  std::string spec_yaml;
  std::string spec_sha256;
  ExperimentState state = ExperimentState::kQueued;
  absl::Time created;
  std::optional<absl::Time> finished;
};

struct RunRecord {
  int64_t id = 0;
  int64_t experiment_id = 0;
  spec::RunPoint point;  // the matrix point and repetition, as expanded
  RunState state = RunState::kPending;
  std::string error;
};

// An attempt that waits for a pair, with its run's point (Store::PendingAttempts).
struct PendingAttempt {
  int64_t attempt_id = 0;
  spec::RunPoint point;
};

// Attempt evidence keys (AttemptRecord::evidence; the results view reads
// load.unsteady and server.simulated by name). The measured load window
// the client reported (unix ms), and why the run counts as unsteady.
inline constexpr char kLoadStartedKey[] = "load.started_ms";
inline constexpr char kLoadEndedKey[] = "load.ended_ms";
inline constexpr char kUnsteadyKey[] = "load.unsteady";
// The attempt reboots its server although it runs the mode: another
// repetition already ran in the current boot (order.repetitions_across_boots).
inline constexpr char kFreshBootKey[] = "assigned.fresh_boot";
// The server's kernel release at assignment (its mode tokens depend on it).
inline constexpr char kKernelReleaseKey[] = "server.kernel_release";
// The kernel axis: the run's kernel (matrix value) and the release the
// server must run, resolved when the attempt is assigned.
inline constexpr char kKernelNameKey[] = "kernel.name";
inline constexpr char kKernelTargetKey[] = "kernel.release";
// nodes.client_iommu: after the client's switch, whether the server still
// switches ("true") or is verified as it is.
inline constexpr char kServerSwitchKey[] = "assigned.server_switch";
// "true" when the server's boots and modes are simulated (--simulate_boot).
inline constexpr char kSimulatedKey[] = "server.simulated";
// A VM run: the node id its guest registers as ("<host>/<vm>"); its server
// runs there. The run's verify.* evidence is the guest's probe, the host's
// is under host.verify.*.
inline constexpr char kGuestNodeKey[] = "vm.guest_id";
inline constexpr char kHostVerifyPrefix[] = "host.verify.";

// Every evidence key a result row is made of (service::ToResultRows), in
// key order. A page of results reads them from their copy in the table
// result_facts, a column each, kept by triggers that list exactly these
// keys (migration 12): a new key here needs a migration that adds it there.
inline constexpr std::array<const char*, 12> kResultEvidenceKeys = {
    "host.verify.detected",  "load.ended_ms",    "load.generator_busy", "load.link_speed_mbps",
    "load.link_utilization", "load.started_ms",  "load.unsteady",       "server.env.cores",
    "server.simulated",      "verify.data_mode", "verify.detected",     "vm.guest_id"};

struct AttemptRecord {
  int64_t id = 0;
  int64_t run_id = 0;
  int64_t experiment_id = 0;
  uint32_t number = 1;  // 1 for the first attempt of a run
  AttemptState state = AttemptState::kPending;
  std::string server_node;
  std::string client_node;
  std::string step_id;  // the step the attempt waits for
  std::string endpoint_host;
  uint32_t endpoint_port = 0;
  std::string error;
  std::map<std::string, std::string> evidence;
  uint64_t samples_reported = 0;  // metric samples the agents said they sent
  absl::Time created;
  absl::Time updated;  // last state change; deadlines count from here
};

// The latest attempt of each run (by run id) among `attempts`.
inline std::map<int64_t, const AttemptRecord*> LatestAttempts(
    const std::vector<AttemptRecord>& attempts) {
  std::map<int64_t, const AttemptRecord*> latest;
  for (const auto& a : attempts) {
    auto& slot = latest[a.run_id];
    if (slot == nullptr || slot->number < a.number) slot = &a;
  }
  return latest;
}

// A VM run's guest node ("" for bare metal).
inline std::string GuestNodeOf(const AttemptRecord& a) {
  auto it = a.evidence.find(kGuestNodeKey);
  return it == a.evidence.end() ? "" : it->second;
}

// The label a guest's agent registers with: its host's id. Guests are
// nodes of their host's VM runs, never paired on their own.
inline constexpr char kParentLabel[] = "iommuvm.parent";

struct NodeRecord {
  std::string agent_id;
  std::vector<v1::Role> roles;
  std::map<std::string, std::string> labels;
  std::string boot_id;
  std::string kernel_cmdline;
  std::string hostname;
  std::string data_address;
  NodeHealth health = NodeHealth::kReady;
  uint32_t losses = 0;
  // Why it is QUARANTINED ("" otherwise): what the scheduler saw, e.g. a
  // boot it did not come back from, with its console's last line.
  std::string health_reason;
  absl::Time last_seen;
  std::string cpu_vendor;  // GenuineIntel, AuthenticAMD
  // The mode the node's probe saw when it registered (its data-plane NIC's
  // group, else all groups): off, passthrough, lazy, strict, mixed, unknown.
  std::string iommu_mode;
  std::string inventory_json;  // the registration's inventory, for provenance
  std::map<std::string, std::string> tools;  // program -> version line
  std::string outbox_epoch;  // the agent's outbox at its last registration
  bool simulated = false;    // --simulate_boot: modes generated, not run
};

// A data message the controller could never apply, acked with the reason.
struct RejectionRecord {
  std::string agent_id;
  uint64_t seq = 0;
  std::string kind;  // step_update, metric_batch, run_result, ...
  std::string reason;
};

// An agent's rejected messages: how many, and the latest.
struct RejectionSummary {
  int64_t count = 0;
  uint64_t last_seq = 0;
  std::string last_reason;
};

struct NewExperiment {
  std::string name;
  std::string spec_yaml;
  std::string spec_sha256;
  std::vector<RunRecord> runs;  // id/experiment_id ignored; one attempt each
};

// A state change of one attempt, applied only if it is still in `from`.
struct AttemptUpdate {
  int64_t attempt_id = 0;
  AttemptState from = AttemptState::kPending;
  AttemptState to = AttemptState::kPending;
  std::optional<std::string> error;
  std::optional<std::string> step_id;
  std::optional<std::pair<std::string, std::string>> nodes;  // server, client
  std::optional<std::pair<std::string, uint32_t>> endpoint;
  std::map<std::string, std::string> evidence;  // merged into the stored map
  uint64_t add_samples_reported = 0;
};

struct RunUpdate {
  int64_t run_id = 0;
  RunState state = RunState::kPending;
  std::string error;
};

struct ExperimentUpdate {
  int64_t experiment_id = 0;
  ExperimentState state = ExperimentState::kQueued;
  bool finished = false;
};

struct ResultRecord {
  int64_t attempt_id = 0;
  int64_t run_id = 0;
  std::string tool;
  std::string tool_version;
  v1::OperationResult result;
};

// Which of an attempt's samples to summarize (Store::SummarizeSamples).
struct SampleWindow {
  int64_t attempt_id = 0;
  std::string agent_id;  // whose unlabelled metrics are averaged
  // Samples with from_ms < ts <= to_ms (each covers the interval before
  // it); to_ms 0: all of them.
  int64_t from_ms = 0;
  int64_t to_ms = 0;
};

// An attempt's samples that describe its measurement: the server's (a VM
// run's guest's: the server's telemetry comes from where it ran) over the
// measured load only (warmup, preload and idle excluded). Needs the
// evidence of kResultEvidenceKeys.
inline SampleWindow SampleWindowOf(const AttemptRecord& a) {
  SampleWindow w;
  w.attempt_id = a.id;
  std::string guest = GuestNodeOf(a);
  w.agent_id = guest.empty() ? a.server_node : guest;
  auto started = a.evidence.find(kLoadStartedKey), ended = a.evidence.find(kLoadEndedKey);
  if (started != a.evidence.end() && ended != a.evidence.end()) {
    (void)absl::SimpleAtoi(started->second, &w.from_ms);
    (void)absl::SimpleAtoi(ended->second, &w.to_ms);
  }
  return w;
}

struct SampleSummary {
  uint64_t count = 0;                   // the attempt's samples, from every agent
  std::map<std::string, double> means;  // the window's agent, by metric name
};

struct SampleRecord {
  int64_t attempt_id = 0;
  std::string agent_id;
  v1::MetricSample sample;
};

struct EventRecord {
  int64_t experiment_id = 0;
  int64_t run_id = 0;
  int64_t attempt_id = 0;
  std::string agent_id;
  std::string kind;
  std::string message;
};

// A named text kept with an attempt (raw tool output, server log).
struct ArtifactRecord {
  int64_t attempt_id = 0;
  std::string name;
  std::string content;
};

struct SwitchTime {
  std::string node;
  std::string method;  // sysfs | kexec | grub | sim-...
  absl::Duration took;
};

struct Mutation {
  std::optional<std::pair<std::string, uint64_t>> dedupe;  // (agent id, seq)
  std::vector<AttemptUpdate> attempts;                     // applied in order
  std::vector<int64_t> new_attempts;                       // run ids to retry
  // Runs added to a running experiment (more repetitions), each PENDING
  // with its first attempt: experiment_id and point are used.
  std::vector<RunRecord> new_runs;
  std::vector<RunUpdate> runs;
  std::vector<ExperimentUpdate> experiments;
  std::vector<ResultRecord> results;
  std::vector<SampleRecord> samples;
  std::vector<EventRecord> events;
  std::vector<ArtifactRecord> artifacts;
  // Evidence added to attempts without a state change (attempt id, key, value).
  std::vector<std::tuple<int64_t, std::string, std::string>> evidence;
  std::optional<RejectionRecord> rejection;
  // Cleanups an ended attempt owes its server node (attempt id, agent id),
  // and those reported done.
  std::vector<std::pair<int64_t, std::string>> cleanups_owed;
  std::vector<int64_t> cleanups_done;
  bool empty() const {
    return !dedupe && attempts.empty() && new_attempts.empty() && new_runs.empty() &&
           runs.empty() && experiments.empty() && results.empty() && samples.empty() &&
           events.empty() && artifacts.empty() && evidence.empty() && !rejection &&
           cleanups_owed.empty() && cleanups_done.empty();
  }
};

enum class ApplyOutcome { kApplied, kDuplicate };

class Store {
 public:
  virtual ~Store() = default;

  // Inserts the experiment, its runs and a PENDING first attempt per run.
  virtual absl::StatusOr<int64_t> CreateExperiment(const NewExperiment& e) = 0;
  // NotFound when there is no such experiment.
  virtual absl::StatusOr<ExperimentRecord> GetExperiment(int64_t id) = 0;
  // All experiments, newest first.
  virtual absl::StatusOr<std::vector<ExperimentRecord>> ListExperiments() = 0;
  // NotFound when there is no such run.
  virtual absl::StatusOr<RunRecord> GetRun(int64_t run_id) = 0;
  // Runs of an experiment in index order.
  virtual absl::StatusOr<std::vector<RunRecord>> ListRuns(int64_t experiment_id) = 0;
  // One page of them: at most `limit` runs with an index above `after_index`.
  virtual absl::StatusOr<std::vector<RunRecord>> ListRuns(int64_t experiment_id,
                                                          int64_t after_index, int64_t limit) = 0;
  // Where the pages of `page_size` runs after the first begin: for each, the
  // index of the last run before it (its ListRuns `after_index`).
  virtual absl::StatusOr<std::vector<int64_t>> PageStarts(int64_t experiment_id,
                                                          int64_t page_size) = 0;
  // What an experiment's view changed by. Every change of a run's state or
  // error, of its attempts or a retry gets the next change number (kept by
  // triggers, migration 9); runs remember their latest.
  virtual absl::StatusOr<int64_t> LastChange() = 0;
  // Runs of an experiment changed after change number `change`, by index.
  virtual absl::StatusOr<std::vector<RunRecord>> RunsChangedSince(int64_t experiment_id,
                                                                  int64_t change) = 0;
  // Runs of an experiment in `state`, by index.
  virtual absl::StatusOr<std::vector<RunRecord>> RunsIn(int64_t experiment_id, RunState state) = 0;
  // Whether a run of the experiment is in one of `states` (an index lookup).
  virtual absl::StatusOr<bool> AnyRunIn(int64_t experiment_id,
                                        const std::vector<RunState>& states) = 0;
  // Attempts of an experiment, by run index then attempt number.
  virtual absl::StatusOr<std::vector<AttemptRecord>> ListAttempts(int64_t experiment_id) = 0;
  // The attempts of these runs, by run index then attempt number, with the
  // evidence keys starting with one of `evidence_prefixes` (all if empty).
  virtual absl::StatusOr<std::vector<AttemptRecord>> AttemptsOfRuns(
      const std::vector<int64_t>& run_ids, const std::vector<std::string>& evidence_prefixes) = 0;
  // A page of runs for result rows: the runs ListRuns(experiment_id,
  // after_index, limit) gives, with each one's latest attempt (none before
  // its first) carrying the evidence of kResultEvidenceKeys, in one read.
  struct RunsWithLatestAttempts {
    std::vector<RunRecord> runs;
    std::vector<AttemptRecord> attempts;
  };
  virtual absl::StatusOr<RunsWithLatestAttempts> RunsForResults(int64_t experiment_id,
                                                                int64_t after_index,
                                                                int64_t limit) = 0;
  // The attempt with this id (NotFound if none).
  virtual absl::StatusOr<AttemptRecord> GetAttempt(int64_t attempt_id) = 0;
  // Every attempt not in a terminal state, oldest experiment and run first.
  virtual absl::StatusOr<std::vector<AttemptRecord>> OpenAttempts() = 0;
  // Attempts on a pair now: neither PENDING nor ended, oldest first.
  virtual absl::StatusOr<std::vector<AttemptRecord>> ActiveAttempts() = 0;
  // PENDING attempts of an experiment, by run index, with their runs'
  // points: what a plan is made of, and no more (not the runs' records:
  // a plan of 100k runs read them all, then joined them by id).
  virtual absl::StatusOr<std::vector<PendingAttempt>> PendingAttempts(int64_t experiment_id) = 0;
  // Number of attempts a run has had.
  virtual absl::StatusOr<uint32_t> AttemptCount(int64_t run_id) = 0;

  // Creates or replaces a node's registration.
  virtual absl::Status UpsertNode(const NodeRecord& node) = 0;
  virtual absl::StatusOr<std::vector<NodeRecord>> ListNodes() = 0;
  // One node's registration (nullopt when it never registered).
  virtual absl::StatusOr<std::optional<NodeRecord>> GetNode(const std::string& agent_id) = 0;

  // Applies all parts of `m` in one transaction. kDuplicate (and nothing
  // changed) when m.dedupe was applied before; Aborted (and nothing changed)
  // when an attempt is no longer in its expected `from` state.
  virtual absl::StatusOr<ApplyOutcome> Apply(const Mutation& m) = 0;
  // Applies each of `ms` as Apply would, all in one transaction (a commit
  // writes every page it touched: one for a group of small mutations costs
  // far less than one each). Each has its own savepoint, so one that fails
  // or is a duplicate leaves nothing and the others still apply, except
  // the later ones of the same agent (m.dedupe), which fail (Aborted): an
  // agent's messages never commit past one of its own that did not. A
  // failed commit fails them all. One outcome per mutation, in order.
  virtual std::vector<absl::StatusOr<ApplyOutcome>> ApplyGroup(const std::vector<Mutation>& ms) = 0;
  // Makes every commit so far durable. Commits are not synced one by one:
  // whatever depends on them (an ack, a step sent to an agent) goes out
  // only after one Sync for the whole group (service/durable_gateway.h).
  virtual absl::Status Sync() = 0;
  // Highest sequence number committed for an agent (0 if none).
  virtual absl::StatusOr<uint64_t> CommittedSeq(const std::string& agent_id) = 0;
  // Attempts whose cleanup `agent_id` still owes, oldest first.
  virtual absl::StatusOr<std::vector<int64_t>> CleanupsOwedBy(const std::string& agent_id) = 0;
  // Rejected data messages per agent id (agents with none are absent).
  virtual absl::StatusOr<std::map<std::string, RejectionSummary>> Rejections() = 0;

  virtual absl::StatusOr<std::vector<ResultRecord>> ResultsOfExperiment(int64_t id) = 0;
  virtual absl::StatusOr<std::vector<ResultRecord>> ResultsOfAttempt(int64_t attempt_id) = 0;
  virtual absl::StatusOr<std::vector<ResultRecord>> ResultsOfRuns(
      const std::vector<int64_t>& run_ids) = 0;
  // The artifacts kept with an attempt, by name.
  virtual absl::StatusOr<std::vector<ArtifactRecord>> ArtifactsOfAttempt(int64_t attempt_id) = 0;
  // For each window, in order: how many samples its attempt has and the
  // mean of each unlabelled metric its agent reported in it (those named in
  // `names`; every one when it is empty). Two queries for any number of
  // windows (a page of result rows).
  virtual absl::StatusOr<std::vector<SampleSummary>> SummarizeSamples(
      const std::vector<SampleWindow>& windows, const std::vector<std::string>& names) = 0;
  // Every metric sample an attempt has, from any agent.
  absl::StatusOr<uint64_t> CountSamples(int64_t attempt_id) {
    auto summaries = SummarizeSamples({SampleWindow{attempt_id, "", 0, 0}}, {});
    if (!summaries.ok()) return summaries.status();
    return (*summaries)[0].count;
  }
  // The (timestamp ms, value) samples of one metric `agent_id` reported for
  // an attempt, all label sets summed per timestamp, in time order.
  virtual absl::StatusOr<std::vector<std::pair<int64_t, double>>> SeriesOf(
      int64_t attempt_id, const std::string& agent_id, const std::string& name) = 0;
  // Count of runs per state over all experiments (for /metrics).
  virtual absl::StatusOr<std::map<RunState, int64_t>> RunStateCounts() = 0;
  // Count of runs per state of one experiment.
  virtual absl::StatusOr<std::map<RunState, int64_t>> RunStateCounts(int64_t experiment_id) = 0;
  // Every mode switch a node made and was verified after, measured from
  // the controller's request to the new mode verified (the attempt's
  // `switching` and `verified` events, its switch.method), oldest first.
  virtual absl::StatusOr<std::vector<SwitchTime>> SwitchTimes() = 0;
};

}  // namespace iommuvm::store
