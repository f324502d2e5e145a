#include "controller/scheduler/decide.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "controller/scheduler/scheduler_helpers.h"
#include "iommu/mode_names.h"

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

// The client back from its own switch (nodes.client_iommu): rebooted and
// in the mode; then the server switches, or is verified as it is.
Decision ClientSwitchDone(const store::AttemptRecord& a, const std::string& agent_id,
                          const v1::StepUpdate& u) {
  if (!u.has_switch_outcome()) return Fail(a, NoOutcome(agent_id, "SwitchOutcome"));
  const v1::SwitchOutcome& outcome = u.switch_outcome();
  const v1::ProbeReport& probe = outcome.probe();
  if (outcome.boot_id_before() == probe.boot_id()) {
    return Fail(a, absl::StrCat(agent_id, " (client): switched with ", outcome.method(),
                                " but the boot id is unchanged: the node did not reboot"));
  }
  if (!probe.mismatch().empty()) {
    return Fail(a, absl::StrCat(agent_id, " (client): ", probe.mismatch()));
  }
  auto server_switch = a.evidence.find(store::kServerSwitchKey);
  bool then_server = server_switch != a.evidence.end() && server_switch->second == "true";
  Decision d = then_server ? Move(a.state, AttemptState::kConfiguringBoot, StepKind::kSwitchMode)
                           : Move(a.state, AttemptState::kVerifying, StepKind::kVerifyMode);
  AddProbeEvidence(probe, "client.", &d.evidence);
  d.evidence["client.switch.method"] = outcome.method();
  d.events.emplace_back("client_switched", absl::StrCat(agent_id, " with ", outcome.method(),
                                                        ", now ", ProbedMode(probe)));
  d.client_switched = probe;
  return d;
}

Decision Verified(const store::AttemptRecord& a, const std::string& agent_id,
                  const v1::StepUpdate& u, const StepFacts& facts) {
  if (!u.has_probe()) return Fail(a, NoOutcome(agent_id, "ProbeReport"));
  const v1::ProbeReport& probe = u.probe();
  // A VM run goes on to boot its guest, whose probe is the run's verify.*;
  // the host's is kept beside it.
  bool vm = !facts.guest.empty();
  Decision d = vm ? Move(AttemptState::kVerifying, AttemptState::kLaunchingVm, StepKind::kLaunchVm)
                  : Move(AttemptState::kVerifying, AttemptState::kPreparing, StepKind::kStartServer);
  std::string prefix = vm ? store::kHostVerifyPrefix : "verify.";
  for (const auto& [k, v] : u.evidence()) d.evidence[prefix + k] = v;
  AddProbeEvidence(probe, prefix, &d.evidence);
  if (!probe.mismatch().empty()) {
    d.to = AttemptState::kFailed;
    d.next.reset();
    d.error = absl::StrCat(agent_id, ": ", probe.mismatch());
    return d;
  }
  std::string mode = ProbedMode(probe);
  d.events.emplace_back(vm ? "host_verified" : "verified",
                        absl::StrCat(mode, " (", EvidenceOf(u, "groups"), ")"));
  d.verified = probe;
  return d;
}

Decision GuestUp(const store::AttemptRecord& a, const std::string& agent_id,
                 const v1::StepUpdate& u, const StepFacts& facts) {
  if (!u.has_vm_outcome()) return Fail(a, NoOutcome(agent_id, "VmOutcome"));
  const v1::VmOutcome& vm = u.vm_outcome();
  if (!facts.guest_probe) {
    return Fail(a,
                absl::StrCat(facts.guest, ": the guest's agent connected without an IOMMU probe "
                                          "(an iommuvm-agent older than this controller in the "
                                          "guest image? rebuild it with scripts/guest-image)"),
                /*transient=*/true);
  }
  const v1::ProbeReport& probe = *facts.guest_probe;
  Decision d = Move(AttemptState::kLaunchingVm, AttemptState::kPreparing, StepKind::kStartServer);
  d.evidence = {{"vm.accel", vm.accel()},
                {"vm.qemu_version", vm.qemu_version()},
                {"vm.qemu_argv", vm.qemu_argv()},
                {"vm.boot_ms", absl::StrCat(vm.boot_ms())},
                {"vm.guest_address", vm.guest_address()},
                {"vm.tap", vm.tap()},
                {"vm.reused", vm.reused() ? "true" : "false"},
                {"vm.pinning", vm.pinning()},
                {"vm.backend", vm.backend()},
                {"vm.libvirt_domain", vm.libvirt_domain()},
                {"vm.vf", vm.vf()},
                {"vm.vf_group", vm.vf_group()},
                {"vm.vf_pf", vm.vf_pf()}};
  AddProbeEvidence(probe, "verify.", &d.evidence);
  std::string mode = ProbedMode(probe);
  if (facts.guest_mode != v1::IOMMU_MODE_CURRENT && mode != iommu::IommuModeName(facts.guest_mode)) {
    d.to = AttemptState::kFailed;
    d.next.reset();
    d.error = absl::StrCat(facts.guest, ": the guest runs ", mode.empty() ? "an unknown mode" : mode,
                           ", not the ", iommu::IommuModeName(facts.guest_mode),
                           " its vms entry asks for",
                           probe.mismatch().empty() ? "" : absl::StrCat(" (", probe.mismatch(), ")"));
    return d;
  }
  d.events.emplace_back("guest_up",
                        vm.reused() ? absl::StrCat(facts.guest, " still up (", vm.accel(),
                                                   "), serves this run too; runs ", mode)
                                    : absl::StrCat(facts.guest, " up in ", vm.boot_ms(), " ms (",
                                                   vm.accel(), "), runs ", mode));
  return d;
}

}  // namespace

// A STARTED update: the node says what it is about to do.
Decision Started(const store::AttemptRecord& a, StepKind kind, const v1::StepUpdate& u) {
  bool switching = kind == StepKind::kSwitchMode || kind == StepKind::kSwitchClient;
  if (!switching || a.state != AttemptState::kConfiguringBoot || !u.switch_outcome().rebooting()) {
    Decision d;
    d.from = d.to = a.state;
    return d;
  }
  // The node goes down to switch its boot config: it gets the boot grace.
  Decision d;
  d.from = AttemptState::kConfiguringBoot;
  d.to = AttemptState::kRebooting;
  d.await_node = true;
  d.evidence["switch.method"] = u.switch_outcome().method();
  d.events.emplace_back("rebooting", absl::StrCat("switching with ", u.switch_outcome().method()));
  return d;
}

Decision Decide(const store::AttemptRecord& a, StepKind kind, const std::string& agent_id,
                const v1::StepUpdate& u, const StepFacts& facts) {
  if (u.phase() == v1::StepUpdate::PHASE_STARTED) return Started(a, kind, u);
  if (u.phase() == v1::StepUpdate::PHASE_FAILED) {
    Decision d = Fail(a, absl::StrCat(agent_id, ": ", u.error()), u.transient());
    d.count_samples = true;
    return d;
  }
  switch (kind) {
    case StepKind::kSwitchMode:
      return SwitchDone(a, agent_id, u);
    case StepKind::kSwitchClient:
      return ClientSwitchDone(a, agent_id, u);
    case StepKind::kVerifyMode:
      return Verified(a, agent_id, u, facts);
    case StepKind::kLaunchVm:
      return GuestUp(a, agent_id, u, facts);
    case StepKind::kStartServer: {
      Decision d = Move(AttemptState::kPreparing, AttemptState::kRunning, StepKind::kRunLoad);
      d.endpoint = std::make_pair(u.endpoint_host(), u.endpoint_port());
      // The server node's environment as it read it (env.*).
      for (const auto& [k, v] : u.evidence()) d.evidence["server." + k] = v;
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
      // Provenance of the measurement ("load.data_path": the bytes the
      // data interface carried against the generator's).
      // The client node's environment (env.*) under client., the rest under load.
      for (const auto& [k, v] : u.evidence()) {
        d.evidence[absl::StartsWith(k, "env.") ? "client." + k : "load." + k] = v;
      }
      return d;
    }
    case StepKind::kStopServer: {
      if (facts.load.failure) {
        // An outage passes: retried like a lost node, within `retries`.
        Decision d = Fail(a, absl::StrCat(agent_id, ": ", *facts.load.failure),
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
