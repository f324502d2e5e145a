#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/units.h"
#include "controller/node_console.h"
#include "controller/scheduler/scheduler.h"
#include "controller/scheduler/scheduler_helpers.h"
#include "controller/scheduler/step_builder.h"
#include "iommu/cmdline.h"
#include "spec/spec_parser.h"

// How attempts end: failed or cancelled with cleanup, lost with a retry
// (and quarantine), and the deadlines that decide it.
namespace iommuvm::scheduler {

using store::AttemptRecord;
using store::AttemptUpdate;
using store::Mutation;

absl::StatusOr<bool> Scheduler::RetryOrFail(const AttemptRecord& a,
                                            const spec::ExperimentSpec& spec,
                                            const std::string& error, Mutation& m) {
  ASSIGN_OR_RETURN(uint32_t attempts, store_->AttemptCount(a.run_id));
  if (attempts <= spec.retries) {
    m.new_attempts.push_back(a.run_id);
    m.runs.push_back({a.run_id, RunState::kPending, ""});
    return true;
  }
  m.runs.push_back({a.run_id, RunState::kFailed, absl::StrCat(error, "; no retries left")});
  return false;
}

absl::Status Scheduler::EndAttempt(const AttemptRecord& a, AttemptState to,
                                   const std::string& error, Mutation m, bool transient) {
  ASSIGN_OR_RETURN(auto spec, SpecFor(a.experiment_id));
  if (m.attempts.empty() || m.attempts.back().attempt_id != a.id) {
    m.attempts.push_back(Move(a, a.state, to));
  }
  m.attempts.back().error = error;
  bool retry = false;
  if (transient) {
    ASSIGN_OR_RETURN(retry, RetryOrFail(a, *spec, error, m));
  } else {
    m.runs.push_back({a.run_id,
                      to == AttemptState::kCancelled ? RunState::kCancelled : RunState::kFailed,
                      error});
  }
  m.events.push_back(Event(a, "", std::string(AttemptStateName(to)), error));
  OweCleanup(a, m);
  RETURN_IF_ERROR(Commit(m));
  // The retry is a new PENDING attempt the plan does not know yet.
  if (retry) queues_[a.experiment_id].Invalidate();
  Log(kLog, "attempt ", a.id, " (run ", a.run_id, ") ", AttemptStateName(to), ": ", error);
  SendCleanup(a, *spec);
  return absl::OkStatus();
}

bool Scheduler::NeedsCleanup(const AttemptRecord& a) {
  return a.state != AttemptState::kPending && a.state != AttemptState::kAssigned;
}

void Scheduler::OweCleanup(const AttemptRecord& a, Mutation& m) {
  // Durable, so a server node that is away now gets it when it is back.
  if (NeedsCleanup(a) && !a.server_node.empty()) m.cleanups_owed.emplace_back(a.id, a.server_node);
}

void Scheduler::SendCleanup(const AttemptRecord& a, const spec::ExperimentSpec& spec) {
  if (!NeedsCleanup(a)) return;
  v1::ControllerMessage cancel;
  cancel.mutable_cancel()->set_step_id(a.step_id);
  cancel.mutable_cancel()->set_reason("attempt ended");
  for (const std::string& node : {a.server_node, a.client_node, store::GuestNodeOf(a)}) {
    if (!node.empty()) gateway_->Send(node, cancel);
  }
  if (!a.server_node.empty()) {
    SendStep(a.server_node, StopServerStep(a.id, a.run_id, spec, StepKind::kCleanup));
  }
}

bool Scheduler::Booting(const AttemptRecord& a, const std::string& node) const {
  if (a.state != AttemptState::kConfiguringBoot && a.state != AttemptState::kRebooting) {
    return false;
  }
  // The client while its own switch runs (nodes.client_iommu), else the server.
  int64_t id;
  StepKind kind;
  bool client_switch = ParseStepId(a.step_id, &id, &kind) && kind == StepKind::kSwitchClient;
  return node == (client_switch ? a.client_node : a.server_node);
}

absl::Duration Scheduler::Grace(const AttemptRecord& a, const spec::ExperimentSpec& spec,
                                const std::string& node) const {
  // A server switching its boot config is expected to vanish for up to the
  // spec's boot timeout.
  return Booting(a, node) ? std::max(spec.timeouts.boot, options_.agent_grace)
                          : options_.agent_grace;
}

std::optional<std::string> Scheduler::LostNode(const AttemptRecord& a,
                                               const spec::ExperimentSpec& spec) {
  for (const std::string& node : {a.server_node, a.client_node}) {
    if (node.empty()) continue;
    absl::Duration silent = liveness_.SilentFor(node);
    if (a.state == AttemptState::kRebooting && Booting(a, node)) {
      // Gone with the kernel it ran on: its stream closes only when
      // keepalive notices, maybe long after. Back is a word from it since
      // the reboot began; the boot grace counts from that start.
      silent = std::min(liveness_.SinceHeard(node), clock_->Now() - std::max(a.updated, started_));
    }
    if (silent > Grace(a, spec, node)) return node;
  }
  // A VM run's guest, once it serves (QEMU killed, the guest crashed).
  bool serving = a.state == AttemptState::kPreparing || a.state == AttemptState::kRunning ||
                 a.state == AttemptState::kCollecting;
  if (std::string guest = store::GuestNodeOf(a);
      serving && !guest.empty() && liveness_.SilentFor(guest) > options_.agent_grace) {
    return guest;
  }
  return std::nullopt;
}

absl::Time Scheduler::Deadline(const AttemptRecord& a, const spec::ExperimentSpec& spec) {
  absl::Duration limit = spec.timeouts.prepare;
  switch (a.state) {
    case AttemptState::kRunning: {
      // The agent runs the warmup before the measured load, each with its
      // own limit.
      auto run = store_->GetRun(a.run_id);
      limit = spec.timeouts.run;
      if (run.ok()) limit += WorkloadOf(spec, *run).generator.warmup;
      break;
    }
    case AttemptState::kCollecting: limit = spec.timeouts.collect; break;
    case AttemptState::kConfiguringBoot:
    case AttemptState::kRebooting:
    case AttemptState::kLaunchingVm: limit = spec.timeouts.boot; break;
    default: break;
  }
  // Counted from the state's start, or from this controller's start when
  // the state began before it: downtime is not the attempt's fault.
  return std::max(a.updated, started_) + limit + kStepTimeoutSlack;
}

absl::Status Scheduler::LoseAttempt(const AttemptRecord& a, const std::string& node,
                                    const std::vector<std::string>& console) {
  ASSIGN_OR_RETURN(auto spec, SpecFor(a.experiment_id));
  std::string grace = SpecDuration(Grace(a, *spec, node));
  bool boot = Booting(a, node);
  std::string error = boot
                          ? absl::StrCat("node ", node, " did not come back within timeouts.boot (",
                                         grace, ") after a mode switch")
                          : absl::StrCat("node ", node, " lost (no contact for ", grace, ")");
  if (!console.empty()) absl::StrAppend(&error, "; ", ConsoleSummary(console));
  Mutation m;
  AttemptUpdate up = Move(a, a.state, AttemptState::kLost);
  up.error = error;
  m.attempts.push_back(up);
  ASSIGN_OR_RETURN(bool retry, RetryOrFail(a, *spec, error, m));
  m.events.push_back(Event(a, node, std::string(AttemptStateName(AttemptState::kLost)), error));
  OweCleanup(a, m);
  RETURN_IF_ERROR(Commit(m));
  // The retry is a new PENDING attempt the plan does not know yet.
  if (retry) queues_[a.experiment_id].Invalidate();
  Log(kLog, "attempt ", a.id, " LOST: ", error);
  consoles_.erase(a.id);

  ASSIGN_OR_RETURN(NodesPtr nodes, Nodes());
  if (const auto* found = FindNode(*nodes, node)) {
    store::NodeRecord n = *found;
    ++n.losses;
    // A guest is booted afresh for the retry: only hosts are quarantined.
    // A host that did not come back from a boot at once: it hangs or
    // panics in that boot (its next attempt would boot it the same way),
    // and on a testbed it waits for a power cycle.
    bool host = !n.labels.count(store::kParentLabel);
    if (host && boot) {
      n.health = NodeHealth::kQuarantined;
      n.health_reason =
          absl::StrCat("after not coming back from a boot within timeouts.boot (", grace, ")");
      if (std::string verdict = ConsoleVerdict(console); !verdict.empty()) {
        absl::StrAppend(&n.health_reason, ", console: ", verdict);
      }
    } else if (host && n.losses >= options_.quarantine_after_losses) {
      n.health = NodeHealth::kQuarantined;
      n.health_reason = absl::StrCat("after ", n.losses, " losses");
    }
    RETURN_IF_ERROR(SaveNode(n));
  }
  SendCleanup(a, *spec);
  return absl::OkStatus();
}

}  // namespace iommuvm::scheduler
