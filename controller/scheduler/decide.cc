#include "controller/scheduler/decide.h"

#include "absl/strings/str_cat.h"
#include "controller/scheduler/scheduler_helpers.h"

namespace iommuvm::scheduler {
namespace {

using store::AttemptState;

Decision Fail(const store::AttemptRecord& a, std::string error, bool transient = false) {
  Decision d;
  d.from = a.state;
  d.to = AttemptState::kFailed;
  d.error = std::move(error);
  d.transient = transient;
  return d;
}

Decision Move(AttemptState from, AttemptState to, std::optional<StepKind> next) {
  Decision d;
  d.from = from;
  d.to = to;
  d.next = next;
  return d;
}

// A step's typed outcome is what the scheduler decides on; an update
// without it comes from an agent that speaks an older protocol.
std::string NoOutcome(const std::string& agent_id, const char* outcome) {
  return absl::StrCat(agent_id, ": the step's update carries no ", outcome,
                      " (an iommuvm-agent older than this controller? update it)");
}

Decision SwitchDone(const store::AttemptRecord& a, const std::string& agent_id,
                    const v1::StepUpdate& u) {
  // Back from the switch: a reboot must have changed the boot id.
  if (!u.has_switch_outcome()) return Fail(a, NoOutcome(agent_id, "SwitchOutcome"));
  const v1::SwitchOutcome& outcome = u.switch_outcome();
  const std::string& method = outcome.method();
  const std::string& before = outcome.boot_id_before();
  const std::string& after = outcome.probe().boot_id();
  bool in_place = method == "sysfs" || method == "sim-sysfs";
  if (!in_place && before == after) {
    return Fail(
        a, absl::StrCat(agent_id, ": switched with ", method, " but the boot id is unchanged (",
                        after, "): the node did not reboot"));
  }
  Decision d = Move(a.state, AttemptState::kVerifying, StepKind::kVerifyMode);
  d.evidence = {
      {"switch.method", method}, {"switch.boot_id_before", before}, {"switch.boot_id", after}};
  d.events.emplace_back("switched",
                        absl::StrCat("with ", method, ", now ", outcome.probe().detected()));
  return d;
}

Decision Verified(const store::AttemptRecord& a, const std::string& agent_id,
                  const v1::StepUpdate& u) {
  if (!u.has_probe()) return Fail(a, NoOutcome(agent_id, "ProbeReport"));
  const v1::ProbeReport& probe = u.probe();
  Decision d = Move(AttemptState::kVerifying, AttemptState::kPreparing, StepKind::kStartServer);
  for (const auto& [k, v] : u.evidence()) d.evidence["verify." + k] = v;
  AddProbeEvidence(probe, "verify.", &d.evidence);
  if (!probe.mismatch().empty()) {
    d.to = AttemptState::kFailed;
    d.next.reset();
    d.error = absl::StrCat(agent_id, ": ", probe.mismatch());
    return d;
  }
  std::string mode = ProbedMode(probe);
  d.events.emplace_back("verified", absl::StrCat(mode, " (", EvidenceOf(u, "groups"), ")"));
  d.verified = probe;
  return d;
}

}  // namespace

Decision Decide(const store::AttemptRecord& a, StepKind kind, const std::string& agent_id,
                const v1::StepUpdate& u, const StepFacts& facts) {
  if (u.phase() == v1::StepUpdate::PHASE_FAILED) {
    Decision d = Fail(a, absl::StrCat(agent_id, ": ", u.error()), u.transient());
    d.count_samples = true;
    return d;
  }
  switch (kind) {
    case StepKind::kSwitchMode:
      return SwitchDone(a, agent_id, u);
    case StepKind::kVerifyMode:
      return Verified(a, agent_id, u);
    case StepKind::kStartServer: {
      Decision d = Move(AttemptState::kPreparing, AttemptState::kRunning, StepKind::kRunLoad);
      d.endpoint = std::make_pair(u.endpoint_host(), u.endpoint_port());
      d.count_samples = true;
      d.events.emplace_back("server_ready",
                            absl::StrCat(facts.workload, " listening on ", u.endpoint_host(), ":",
                                         u.endpoint_port()));
      return d;
    }
    case StepKind::kRunLoad: {
      if (!facts.has_result) {
        Decision d = Fail(a, absl::StrCat(agent_id, ": load generator finished without a result"));
        d.count_samples = true;
        return d;
      }
      Decision d = Move(AttemptState::kRunning, AttemptState::kCollecting, StepKind::kStopServer);
      d.count_samples = true;
      return d;
    }
    case StepKind::kStopServer: {
      if (facts.load.failure) {
        // An outage passes: retried like a lost node, within `retries`.
        Decision d = Fail(a, absl::StrCat(a.server_node, ": ", *facts.load.failure),
                          /*transient=*/true);
        d.count_samples = true;
        d.keep_artifacts = true;
        return d;
      }
      Decision d = Move(AttemptState::kCollecting, AttemptState::kSucceeded, std::nullopt);
      d.count_samples = true;
      d.keep_artifacts = true;
      d.run_succeeded = true;
      if (!facts.load.unsteady.empty()) d.evidence[store::kUnsteadyKey] = facts.load.unsteady;
      d.events.emplace_back("attempt_succeeded", "run completed");
      return d;
    }
    case StepKind::kCleanup:
      break;
  }
  // Cleanup steps never drive an attempt: nothing changes.
  Decision d;
  d.from = d.to = a.state;
  return d;
}

}  // namespace iommuvm::scheduler
