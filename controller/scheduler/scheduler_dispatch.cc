#include <algorithm>
#include <set>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/units.h"
#include "controller/scheduler/adaptive_repetitions.h"
#include "controller/scheduler/scheduler.h"
#include "controller/scheduler/scheduler_helpers.h"
#include "controller/scheduler/step_builder.h"
#include "controller/scheduler/switch_costs.h"
#include "iommu/cmdline.h"
#include "spec/kernel_axis.h"
#include "spec/spec_parser.h"

// Following the plan: each pass finds lost nodes and timeouts, then lets
// every unfinished experiment, oldest first, start the next planned
// attempt on each of its free pairs; re-plans when pairs change.
namespace iommuvm::scheduler {

using store::AttemptRecord;
using store::AttemptUpdate;
using store::Mutation;

absl::StatusOr<bool> Scheduler::StartAttempt(const AttemptRecord& a, const NodePair& pair) {
  ASSIGN_OR_RETURN(auto spec, SpecFor(a.experiment_id));
  ASSIGN_OR_RETURN(store::RunRecord run, store_->GetRun(a.run_id));
  ASSIGN_OR_RETURN(store::ExperimentRecord exp, store_->GetExperiment(a.experiment_id));
  ASSIGN_OR_RETURN(NodesPtr nodes, Nodes());
  const store::NodeRecord* found = FindNode(*nodes, pair.server);
  if (found == nullptr) return absl::NotFoundError(absl::StrCat("unknown node ", pair.server));
  const store::NodeRecord& server = *found;
  Mutation m;
  AttemptUpdate assign = Move(a, AttemptState::kPending, AttemptState::kAssigned);
  assign.nodes = std::make_pair(pair.server, pair.client);
  m.attempts.push_back(assign);
  if (exp.state == ExperimentState::kQueued)
    m.experiments.push_back({exp.id, ExperimentState::kRunning, false});
  m.runs.push_back({a.run_id, RunState::kActive, ""});
  m.events.push_back(Event(a, pair.server, "assigned",
                           absl::StrCat("server ", pair.server, ", client ", pair.client)));

  // Provenance of every attempt: the server as it registered.
  m.attempts.back().evidence = {{"assigned.boot_id", server.boot_id},
                                {"assigned.cmdline", server.kernel_cmdline},
                                {"assigned.iommu_mode", server.iommu_mode},
                                {"server.cpu_vendor", server.cpu_vendor},
                                {kSimulatedKey, server.simulated ? "true" : "false"},
                                {kKernelReleaseKey, KernelReleaseOf(server)},
                                {"server.inventory", server.inventory_json}};
  // A VM run's server runs in the guest the host boots after verifying
  // its own mode; the guest registers under this id.
  if (run.point.vm != "bare-metal") {
    m.attempts.back().evidence[kGuestNodeKey] = GuestNodeId(pair.server, run.point.vm);
  }
  // The client's own IOMMU mode, from the same probe at its registration
  // (an AMD client translates by default): part of what was measured.
  const store::NodeRecord* client = FindNode(*nodes, pair.client);
  if (client != nullptr) {
    m.attempts.back().evidence["client.iommu_mode"] = client->iommu_mode;
    m.attempts.back().evidence["client.boot_id"] = client->boot_id;
    m.attempts.back().evidence["client.cmdline"] = client->kernel_cmdline;
    m.attempts.back().evidence["client.cpu_vendor"] = client->cpu_vendor;
    m.attempts.back().evidence["client.kernel_release"] = KernelReleaseOf(*client);
  }
  // nodes.client_iommu: a client not in the mode switches first (a new
  // boot), then the server as it needs.
  v1::IommuMode client_mode = spec->nodes.client_iommu;
  bool switch_client = client != nullptr && client_mode != v1::IOMMU_MODE_CURRENT &&
                       client->iommu_mode != iommu::IommuModeName(client_mode);
  // The kernel axis: the release the run's kernel is on this node (stock:
  // what the node ran when its agent first started). A node found in
  // another kernel (a power cycle, a reload) boots it again.
  std::string kernel = spec::KernelOf(run.point), want_release, running_release;
  if (!kernel.empty()) {
    v1::Inventory inventory = InventoryOf(server);
    running_release = inventory.kernel_release();
    want_release = spec::ResolveKernel(*spec, kernel, inventory.stock_kernel_release()).release;
    if (want_release.empty()) {  // never measured in an unknown kernel
      RETURN_IF_ERROR(EndAttempt(
          a, AttemptState::kFailed,
          absl::StrCat("node ", pair.server,
                       " did not report its stock kernel (an iommuvm-agent older than this "
                       "controller? update it)"),
          Mutation(), /*transient=*/false));
      return false;
    }
    m.attempts.back().evidence[kKernelNameKey] = kernel;
    m.attempts.back().evidence[kKernelTargetKey] = want_release;
  }
  bool in_kernel = want_release.empty() || running_release == want_release;
  // A node already in the needed mode is not switched (the planner's
  // promise); `current` measures the node as it is. Either way the agent's
  // probe verifies before anything runs.
  bool in_mode = in_kernel && (run.point.iommu == v1::IOMMU_MODE_CURRENT ||
                               server.iommu_mode == iommu::IommuModeName(run.point.iommu));
  // Each repetition in its own boot: a node whose current boot already
  // served another repetition of this mode reboots into it again.
  bool fresh_boot = in_mode && run.point.iommu != v1::IOMMU_MODE_CURRENT &&
                    spec->order.repetitions_across_boots &&
                    BootServedOtherRepetition(pair.server, server.boot_id, run);
  if (fresh_boot) {
    in_mode = false;
    m.attempts.back().evidence[kFreshBootKey] = "true";
  }
  AttemptUpdate next =
      Move(a, AttemptState::kAssigned,
           in_mode && !switch_client ? AttemptState::kVerifying : AttemptState::kConfiguringBoot);
  next.step_id = StepId(a.id, switch_client ? StepKind::kSwitchClient
                              : in_mode     ? StepKind::kVerifyMode
                                            : StepKind::kSwitchMode);
  m.attempts.push_back(next);
  if (switch_client) {
    m.attempts.back().evidence[kServerSwitchKey] = in_mode ? "false" : "true";
    m.events.push_back(
        Event(a, pair.client, "switching_client",
              absl::StrCat(client->iommu_mode.empty() ? "unknown" : client->iommu_mode, " -> ",
                           iommu::IommuModeName(client_mode))));
  }
  if (!in_mode) {
    std::string change = absl::StrCat(server.iommu_mode.empty() ? "unknown" : server.iommu_mode,
                                      " -> ", iommu::IommuModeName(run.point.iommu));
    if (!in_kernel) {
      absl::StrAppend(&change, ", kernel ", running_release.empty() ? "unknown" : running_release,
                      " -> ", want_release, kernel == want_release ? "" : " (" + kernel + ")");
    }
    m.events.push_back(
        Event(a, pair.server, fresh_boot ? "rebooting_for_repetition" : "switching", change));
  }
  RETURN_IF_ERROR(Commit(m));
  Log(kLog, "attempt ", a.id, " of run ", run.point.index, " (", run.point.workload, " rep ",
      run.point.repetition, ") on ", pair.server, " -> ", pair.client,
      in_mode ? "" : absl::StrCat(", switching to ", iommu::IommuModeName(run.point.iommu)));
  RETURN_IF_ERROR(SendCurrentStep(a.id));
  return true;
}

bool Scheduler::BootServedOtherRepetition(const std::string& node, const std::string& boot_id,
                                          const store::RunRecord& run) {
  auto it = boot_repetitions_.find(node);
  if (it == boot_repetitions_.end() || it->second.first != boot_id) return false;
  for (const auto& [experiment, mode, repetition, kernel] : it->second.second) {
    if (experiment == run.experiment_id && mode == run.point.iommu &&
        kernel == spec::KernelOf(run.point) && repetition != run.point.repetition) {
      return true;
    }
  }
  return false;
}

absl::Status Scheduler::FinishExperiments(
    const std::vector<store::ExperimentRecord>& experiments) {
  for (const auto& e : experiments) {
    if (e.state != ExperimentState::kQueued && e.state != ExperimentState::kRunning) {
      queues_.erase(e.id);
      continue;
    }
    // Index lookups, not counts: every pass asks, whatever the size.
    ASSIGN_OR_RETURN(bool open, store_->AnyRunIn(e.id, {RunState::kPending, RunState::kActive}));
    if (open) continue;
    ASSIGN_OR_RETURN(bool failed,
                     store_->AnyRunIn(e.id, {RunState::kFailed, RunState::kCancelled}));
    bool all_ok = !failed;
    ASSIGN_OR_RETURN(bool more, AddRepetitions(e.id));
    if (more) continue;
    queues_.erase(e.id);
    Mutation m;
    m.experiments.push_back(
        {e.id, all_ok ? ExperimentState::kSucceeded : ExperimentState::kFailed, true});
    RETURN_IF_ERROR(Commit(m));
    Log(kLog, "experiment ", e.id, " ",
        ExperimentStateName(all_ok ? ExperimentState::kSucceeded : ExperimentState::kFailed));
    RETURN_IF_ERROR(StopIdleGuests(e.id));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> Scheduler::AddRepetitions(int64_t experiment_id) {
  ASSIGN_OR_RETURN(auto spec, SpecFor(experiment_id));
  if (!spec->adaptive()) return false;
  ASSIGN_OR_RETURN(auto runs, store_->ListRuns(experiment_id));
  ASSIGN_OR_RETURN(auto attempts, store_->ListAttempts(experiment_id));
  ASSIGN_OR_RETURN(auto results, store_->ResultsOfExperiment(experiment_id));
  auto latest = store::LatestAttempts(attempts);
  std::map<int64_t, std::map<std::string, double>> metric;  // by attempt
  for (const auto& r : results) {
    metric[r.attempt_id][r.result.operation()] =
        r.result.throughput_ops() > 0 ? r.result.throughput_ops() : r.result.throughput_bytes();
  }
  std::vector<CellRun> cells;
  uint32_t next_index = 0;
  for (const auto& run : runs) {
    next_index = std::max(next_index, run.point.index + 1);
    CellRun c;
    c.point = run.point;
    const store::AttemptRecord* a = latest[run.id];
    c.succeeded =
        run.state == RunState::kSucceeded && a != nullptr && a->state == AttemptState::kSucceeded;
    if (c.succeeded) c.metric = metric[a->id];
    cells.push_back(std::move(c));
  }
  MoreRepetitions more = PlanMoreRepetitions(*spec, cells, next_index);
  if (more.points.empty()) return false;
  Mutation m;
  for (const auto& p : more.points) {
    store::RunRecord r;
    r.experiment_id = experiment_id;
    r.point = p;
    m.new_runs.push_back(std::move(r));
  }
  RETURN_IF_ERROR(
      AddRuns(experiment_id, std::move(m), "repetitions_added",
              absl::StrCat(more.points.size(), " more repetitions for ", more.cells,
                           " cell(s) whose 95% CI is above ±", spec->until_ci_below_pct,
                           "% of the mean (at most ", spec->max_repetitions, " runs each)")));
  return true;
}

absl::Status Scheduler::AddRuns(int64_t experiment_id, Mutation m, const std::string& kind,
                                const std::string& why) {
  store::EventRecord ev;
  ev.experiment_id = experiment_id;
  ev.kind = kind;
  ev.message = why;
  m.events.push_back(std::move(ev));
  RETURN_IF_ERROR(Commit(m));
  queues_[experiment_id].Invalidate();
  Log(kLog, "experiment ", experiment_id, ": ", why);
  return absl::OkStatus();
}

absl::Status Scheduler::StopIdleGuests(int64_t experiment_id) {
  for (auto it = idle_guests_.begin(); it != idle_guests_.end();) {
    const auto& [host, guest] = *it;
    if (guest.experiment_id != experiment_id) {
      ++it;
      continue;
    }
    ASSIGN_OR_RETURN(auto spec, SpecFor(experiment_id));
    Mutation m;
    m.cleanups_owed.emplace_back(guest.attempt_id, host);
    RETURN_IF_ERROR(Commit(m));
    SendStep(host, StopServerStep(guest.attempt_id, guest.run_id, *spec, StepKind::kCleanup));
    it = idle_guests_.erase(it);
  }
  return absl::OkStatus();
}

absl::Status Scheduler::Tick() {
  absl::Status pass = Pass();
  if (!pass.ok()) {
    std::lock_guard lock(mu_);
    NoteStorage(pass, /*wrote=*/false);
  }
  ReadConsoles();
  return pass;
}

bool Scheduler::AwaitingConsole(const AttemptRecord& a, const std::string& node) {
  if (!options_.read_console || !Booting(a, node)) return false;
  auto [it, asked] = consoles_.try_emplace(a.id);
  if (asked) it->second.node = node;
  return !it->second.done;
}

void Scheduler::ReadConsoles() {
  std::vector<std::tuple<int64_t, std::string, std::string>> todo;  // attempt, node, hostname
  {
    std::lock_guard lock(mu_);
    // Every pass calls this: the nodes are read only when a console is due.
    auto due = [](const auto& entry) { return !entry.second.reading && !entry.second.done; };
    if (std::none_of(consoles_.begin(), consoles_.end(), due)) return;
    auto nodes = Nodes();
    for (auto& entry : consoles_) {
      if (!due(entry)) continue;
      auto& [attempt_id, c] = entry;
      c.reading = true;
      const store::NodeRecord* n = nodes.ok() ? FindNode(**nodes, c.node) : nullptr;
      todo.emplace_back(attempt_id, c.node, n != nullptr ? n->hostname : c.node);
    }
  }
  for (const auto& [attempt_id, node, hostname] : todo) {
    auto lines = options_.read_console(node, hostname);
    if (!lines.ok()) Log(kLog, "reading ", node, "'s console: ", lines.status().message());
    std::lock_guard lock(mu_);
    ConsoleRead& c = consoles_[attempt_id];
    c.done = true;
    c.lines = lines.ok() ? *lines
                         : std::vector<std::string>{absl::StrCat(
                               "(console unreadable: ", lines.status().message(), ")")};
    ++version_;
    changed_.notify_all();
  }
}

absl::Status Scheduler::Pass() {
  std::lock_guard lock(mu_);
  absl::Time now = clock_->Now();
  ASSIGN_OR_RETURN(auto active, store_->ActiveAttempts());
  std::map<std::string, int64_t> busy;
  for (const AttemptRecord& a : active) {
    ASSIGN_OR_RETURN(auto spec, SpecFor(a.experiment_id));
    if (auto lost = LostNode(a, *spec)) {
      if (!AwaitingConsole(a, *lost)) {
        auto console = consoles_.extract(a.id);
        RETURN_IF_ERROR(
            LoseAttempt(a, *lost, console ? console.mapped().lines : std::vector<std::string>{}));
        continue;
      }
    } else if (now > Deadline(a, *spec)) {
      // A step that hangs (a tool stuck on a dead link, a node too slow
      // to answer) may not hang next time: retried within `retries`.
      RETURN_IF_ERROR(EndAttempt(
          a, AttemptState::kFailed,
          absl::StrCat("timed out in ", AttemptStateName(a.state), " after ",
                       SpecDuration(absl::Seconds(absl::ToInt64Seconds(now - a.updated)))),
          {}, /*transient=*/true));
      continue;
    }
    busy[a.server_node] = a.experiment_id;
    busy[a.client_node] = a.experiment_id;
  }
  // A console read for an attempt that ended otherwise (its node came back
  // after all) is not needed.
  for (auto it = consoles_.begin(); it != consoles_.end();) {
    bool open = std::any_of(active.begin(), active.end(),
                            [&](const AttemptRecord& a) { return a.id == it->first; });
    bool in_flight = it->second.reading && !it->second.done;
    it = open || in_flight ? std::next(it) : consoles_.erase(it);
  }
  ASSIGN_OR_RETURN(NodesPtr nodes, Nodes());
  ASSIGN_OR_RETURN(auto experiments, store_->ListExperiments());
  std::sort(experiments.begin(), experiments.end(),
            [](const auto& x, const auto& y) { return x.id < y.id; });
  std::set<std::string> claimed;
  for (const auto& e : experiments) {
    if (e.state != ExperimentState::kQueued && e.state != ExperimentState::kRunning) continue;
    RETURN_IF_ERROR(Dispatch(e.id, *nodes, &busy, &claimed));
  }
  // The list read above still tells which experiments are open: only this
  // pass (under mu_) changed them, and only from QUEUED to RUNNING.
  RETURN_IF_ERROR(FinishExperiments(experiments));
  UpdateGauges();
  return absl::OkStatus();
}

std::string Scheduler::WhyNoPair(const spec::ExperimentSpec& spec,
                                 const std::vector<store::NodeRecord>& nodes,
                                 const std::set<std::string>& claimed) {
  std::vector<std::string> servers, clients;
  for (const auto& n : nodes) {
    if (!LabelsMatch(n.labels, spec.nodes.selector)) continue;
    std::string why;
    if (n.health == NodeHealth::kQuarantined) {
      why = absl::StrCat(
          n.agent_id, " quarantined ",
          n.health_reason.empty() ? absl::StrCat("after ", n.losses, " losses") : n.health_reason,
          " (iommuvm agents --release ", n.agent_id, ")");
    } else if (!liveness_.Responsive(n.agent_id)) {
      why = absl::StrCat(n.agent_id, " offline");
    } else if (claimed.count(n.agent_id)) {
      why = absl::StrCat(n.agent_id, " busy with an older experiment");
    } else {
      why = absl::StrCat(n.agent_id, " available");
    }
    if (HasRole(n, v1::ROLE_SERVER)) servers.push_back(why);
    if (HasRole(n, v1::ROLE_CLIENT)) clients.push_back(why);
  }
  auto list = [](const std::vector<std::string>& v) {
    return v.empty() ? std::string("none registered") : absl::StrJoin(v, ", ");
  };
  return absl::StrCat("no eligible pair; servers: ", list(servers), "; clients: ", list(clients));
}

absl::Status Scheduler::Dispatch(int64_t experiment_id,
                                 const std::vector<store::NodeRecord>& nodes,
                                 std::map<std::string, int64_t>* busy,
                                 std::set<std::string>* claimed) {
  ASSIGN_OR_RETURN(auto spec, SpecFor(experiment_id));
  std::vector<CandidateNode> candidates;
  for (const auto& n : nodes) {
    if (!liveness_.Responsive(n.agent_id) || n.health == NodeHealth::kQuarantined ||
        claimed->count(n.agent_id) || n.labels.count(kParentLabel)) {
      continue;
    }
    candidates.push_back({n.agent_id, HasRole(n, v1::ROLE_SERVER), HasRole(n, v1::ROLE_CLIENT),
                          n.labels});
  }
  PlanQueue& queue = queues_[experiment_id];
  std::vector<NodePair> pairs = FormPairs(spec->nodes, candidates, queue.pairs());
  std::unique_lock waiting_lock(waiting_mu_);
  if (pairs.empty()) {
    std::string why = WhyNoPair(*spec, nodes, *claimed);
    if (waiting_[experiment_id] != why) {
      Log(kLog, "experiment ", experiment_id, " waits: ", why);
      waiting_[experiment_id] = why;
      ++version_;  // watchers show it
      changed_.notify_all();
    }
  } else if (waiting_.erase(experiment_id) > 0) {
    ++version_;
    changed_.notify_all();
  }
  waiting_lock.unlock();
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
  pending.reserve(attempts.size());
  for (store::PendingAttempt& a : attempts) pending.push_back({a.attempt_id, std::move(a.point)});
  std::map<NodePair, BootedAs> booted;
  for (const NodePair& pair : pairs) {
    BootedAs as;
    const store::NodeRecord* n = FindNode(nodes, pair.server);
    if (n == nullptr || !iommu::ParseIommuModeName(n->iommu_mode, &as.mode)) continue;
    // The kernel axis: which of its kernels the node runs.
    v1::Inventory inventory = InventoryOf(*n);
    for (const std::string& kernel : spec.matrix.kernel) {
      if (spec::ResolveKernel(spec, kernel, inventory.stock_kernel_release()).release ==
          inventory.kernel_release()) {
        as.kernel = kernel;
        break;
      }
    }
    booted[pair] = as;
  }
  // What switches cost on these nodes, as they were measured.
  std::set<std::string> servers;
  for (const NodePair& pair : pairs) servers.insert(pair.server);
  ASSIGN_OR_RETURN(auto switch_times, store_->SwitchTimes());
  queue->Replan(spec, pending, pairs, booted, SwitchCostsFor(switch_times, servers));
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

}  // namespace iommuvm::scheduler
