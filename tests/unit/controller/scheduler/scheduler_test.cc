
#include "controller/scheduler/scheduler.h"

#include <gtest/gtest.h>

#include "controller/scheduler/step_builder.h"
#include "planner/planner.h"
#include "spec/matrix.h"
#include "spec/spec_parser.h"
#include "tests/unit/controller/scheduler/scheduler_fixture.h"

namespace iommuvm::scheduler {
namespace {

using ::iommuvm::testing::IsOk;

// kSpec with `vms` (YAML under the key) and matrix.vm `[vm_axis]`.
std::string WithVms(const std::string& vms, const std::string& vm_axis) {
  std::string yaml = std::string(kSpec) + "vms:\n" + vms;
  yaml.replace(yaml.find("matrix:\n"), 8, "matrix:\n  vm: [" + vm_axis + "]\n");
  return yaml;
}

// A strict guest under TCG, behind a VT-d without caching mode.
constexpr char kStrictGuest[] =
    "  g: {viommu: intel, guest_iommu: strict, accel: tcg,\n"
    "      viommu_options: {caching_mode: false}}\n";

TEST_F(SchedulerTest, RunsAnAttemptThroughEveryStep) {
  int64_t id = Submit();
  Register("srv", v1::ROLE_SERVER);
  Register("cli", v1::ROLE_CLIENT);
  TickAndVerify();
  v1::Step start = gateway_.LastStep("srv");
  ASSERT_TRUE(start.has_start_server());
  EXPECT_EQ(start.start_server().app(), "redis");
  EXPECT_EQ((*store_->GetExperiment(id)).state, ExperimentState::kRunning);

  ASSERT_THAT(Update("srv", start, v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
  v1::Step load = gateway_.LastStep("cli");
  ASSERT_TRUE(load.has_run_load());
  EXPECT_EQ(load.run_load().target_port(), 6379u);
  EXPECT_EQ(load.run_load().requests(), 1000u);

  ASSERT_THAT(Result("cli", load), IsOk());
  ASSERT_THAT(Update("cli", load, v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
  v1::Step stop = gateway_.LastStep("srv");
  ASSERT_TRUE(stop.has_stop_server());
  ASSERT_THAT(Update("srv", stop, v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
  TickAndVerify();

  auto attempts = *store_->ListAttempts(id);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].state, AttemptState::kSucceeded);
  EXPECT_EQ(attempts[0].evidence.at("assigned.boot_id"), "boot-srv");
  EXPECT_EQ(attempts[0].evidence.at("verify.detected"), "lazy");
  // The client's own mode and boot are recorded too.
  EXPECT_EQ(attempts[0].evidence.at("client.boot_id"), "boot-cli");
  EXPECT_TRUE(attempts[0].evidence.count("client.iommu_mode"));
  EXPECT_EQ((*store_->ListRuns(id))[0].state, RunState::kSucceeded);
  EXPECT_EQ((*store_->GetExperiment(id)).state, ExperimentState::kSucceeded);
  EXPECT_EQ(store_->ResultsOfExperiment(id)->size(), 1u);
}

TEST_F(SchedulerTest, ToolFailureFailsTheRunAndCleansUp) {
  int64_t id = Submit();
  Register("srv", v1::ROLE_SERVER);
  Register("cli", v1::ROLE_CLIENT);
  TickAndVerify();
  v1::Step start = gateway_.LastStep("srv");
  ASSERT_THAT(Update("srv", start, v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
  v1::Step load = gateway_.LastStep("cli");
  ASSERT_THAT(Update("cli", load, v1::StepUpdate::PHASE_FAILED, "redis-benchmark: not found"),
              IsOk());
  auto runs = *store_->ListRuns(id);
  EXPECT_EQ(runs[0].state, RunState::kFailed);
  EXPECT_EQ(runs[0].error, "cli: redis-benchmark: not found");
  EXPECT_EQ(gateway_.LastStep("srv").step_id(), StepId(start.attempt_id(), StepKind::kCleanup));
  TickAndVerify();
  EXPECT_EQ((*store_->GetExperiment(id)).state, ExperimentState::kFailed);
}

TEST_F(SchedulerTest, TransientFailureIsRetriedOnceThenTheRunFails) {
  int64_t id = Submit();  // retries: 1
  Register("srv", v1::ROLE_SERVER);
  Register("cli", v1::ROLE_CLIENT);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    TickAndVerify();
    v1::Step start = gateway_.LastStep("srv");
    ASSERT_EQ(start.attempt_id(), attempt);
    ASSERT_THAT(Update("srv", start, v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
    v1::Step load = gateway_.LastStep("cli");
    ASSERT_THAT(Update("cli", load, v1::StepUpdate::PHASE_FAILED,
                       "wrk saw 8 errors (timeout 8) in 59287 GET requests", {},
                       /*transient=*/true),
                IsOk());
  }
  auto attempts = *store_->ListAttempts(id);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].state, AttemptState::kFailed);
  EXPECT_EQ(attempts[1].state, AttemptState::kFailed);
  auto run = (*store_->ListRuns(id))[0];
  EXPECT_EQ(run.state, RunState::kFailed);
  EXPECT_EQ(run.error, "cli: wrk saw 8 errors (timeout 8) in 59287 GET requests; no retries left");
}

TEST_F(SchedulerTest, LostAgentIsRetriedOnceThenTheRunFails) {
  int64_t id = Submit();
  Register("srv", v1::ROLE_SERVER);
  Register("cli", v1::ROLE_CLIENT);
  TickAndVerify();
  v1::Step first = gateway_.LastStep("srv");
  scheduler_->OnDisconnect("cli");
  clock_.Advance(absl::Seconds(5));
  TickAndVerify();  // within grace: nothing happens
  EXPECT_EQ((*store_->OpenAttempts())[0].state, AttemptState::kPreparing);
  clock_.Advance(absl::Seconds(6));
  TickAndVerify();
  auto attempts = *store_->ListAttempts(id);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].state, AttemptState::kLost);
  EXPECT_EQ(attempts[1].state, AttemptState::kPending);  // no client to run it on
  EXPECT_EQ((*store_->ListRuns(id))[0].state, RunState::kPending);

  // A late result of the lost attempt is acknowledged but not stored.
  ASSERT_THAT(Update("srv", first, v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
  EXPECT_EQ((*store_->ListAttempts(id))[0].state, AttemptState::kLost);

  Register("cli", v1::ROLE_CLIENT);
  TickAndVerify();
  EXPECT_EQ((*store_->ListAttempts(id))[1].state, AttemptState::kPreparing);
  scheduler_->OnDisconnect("srv");
  clock_.Advance(absl::Seconds(11));
  TickAndVerify();
  auto runs = *store_->ListRuns(id);
  EXPECT_EQ(runs[0].state, RunState::kFailed);
  EXPECT_NE(runs[0].error.find("no retries left"), std::string::npos);
  EXPECT_EQ((*store_->GetExperiment(id)).state, ExperimentState::kFailed);
}

TEST_F(SchedulerTest, ReconnectingAgentGetsItsCurrentStepAgain) {
  Submit();
  Register("srv", v1::ROLE_SERVER);
  Register("cli", v1::ROLE_CLIENT);
  TickAndVerify();
  v1::Step start = gateway_.LastStep("srv");
  v1::Register reg;
  reg.set_agent_id("srv");
  reg.add_roles(v1::ROLE_SERVER);
  std::vector<v1::ControllerMessage> resend;
  ASSERT_THAT(scheduler_->OnRegister(reg, &resend), IsOk());
  ASSERT_EQ(resend.size(), 1u);
  EXPECT_EQ(resend[0].assign().step().step_id(), start.step_id());
  // Not resent when the agent says it is still executing it.
  reg.add_active_step_ids(start.step_id());
  resend.clear();
  ASSERT_THAT(scheduler_->OnRegister(reg, &resend), IsOk());
  EXPECT_TRUE(resend.empty());
}

TEST_F(SchedulerTest, StepTimeoutFailsTheAttempt) {
  int64_t id = Submit();
  Register("srv", v1::ROLE_SERVER);
  Register("cli", v1::ROLE_CLIENT);
  TickAndVerify();
  v1::Step start = gateway_.LastStep("srv");
  EXPECT_EQ(start.timeout_ms(), 60000u);  // timeouts.prepare default
  // Agents stay in contact; the server simply never becomes ready.
  for (int i = 0; i < 8; ++i) {  // 60s limit + 10s slack, then past it
    clock_.Advance(absl::Seconds(10));
    scheduler_->OnHeartbeat("srv");
    scheduler_->OnHeartbeat("cli");
    TickAndVerify();
  }
  // A timeout is transient: retried (retries: 1), then final.
  auto attempts = *store_->ListAttempts(id);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].state, AttemptState::kFailed);
  EXPECT_NE(attempts[0].error.find("timed out in PREPARING after 80s"), std::string::npos)
      << attempts[0].error;
  bool cleaned = false;
  for (const auto& m : gateway_.sent["srv"]) {
    cleaned =
        cleaned || m.assign().step().step_id() == StepId(start.attempt_id(), StepKind::kCleanup);
  }
  EXPECT_TRUE(cleaned);
  for (int i = 0; i < 9; ++i) {
    clock_.Advance(absl::Seconds(10));
    scheduler_->OnHeartbeat("srv");
    scheduler_->OnHeartbeat("cli");
    TickAndVerify();
  }
  auto runs = *store_->ListRuns(id);
  EXPECT_EQ(runs[0].state, RunState::kFailed);
  EXPECT_NE(runs[0].error.find("timed out in PREPARING after 80s; no retries left"),
            std::string::npos)
      << runs[0].error;
}

// The controller was down longer than timeouts.run while the agents went
// on: the run is not failed for the controller's absence.
TEST_F(SchedulerTest, ControllerDowntimeDoesNotCountAgainstADeadline) {
  int64_t id = Submit();
  Register("srv", v1::ROLE_SERVER);
  Register("cli", v1::ROLE_CLIENT);
  TickAndVerify();
  v1::Step start = gateway_.LastStep("srv");
  ASSERT_THAT(Update("srv", start, v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
  v1::Step load = gateway_.LastStep("cli");  // RUNNING from now; timeouts.run is 10m
  clock_.Advance(absl::Minutes(15));         // the controller is down
  Restart();
  Register("srv", v1::ROLE_SERVER);
  Register("cli", v1::ROLE_CLIENT);
  ASSERT_THAT(scheduler_->Tick(), IsOk());
  EXPECT_EQ(store_->GetAttempt(load.attempt_id())->state, AttemptState::kRunning);
  // The result the client held in its outbox arrives and counts.
  ASSERT_THAT(Result("cli", load), IsOk());
  ASSERT_THAT(Update("cli", load, v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
  ASSERT_THAT(Update("srv", gateway_.LastStep("srv"), v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
  EXPECT_EQ((*store_->ListRuns(id))[0].state, RunState::kSucceeded);
}

// A VM run: the host verifies its own mode and boots the guest, whose
// agent registers as "<host>/<vm>" with its own probe; that probe is the
// run's verified mode, the server runs in the guest, and the host's
// cleanup stops the guest once the experiment is over.
TEST_F(SchedulerTest, AVmRunServesInItsGuestAndTheHostStopsItAfter) {
  auto r = scheduler_->Submit(WithVms(kStrictGuest, "g"));
  ASSERT_THAT(r, IsOk());
  ASSERT_GT(r->experiment_id, 0) << r->errors[0].Format("t");
  int64_t id = r->experiment_id;
  Register("srv", v1::ROLE_SERVER);
  Register("cli", v1::ROLE_CLIENT);
  TickAndVerify();
  v1::Step launch = gateway_.LastStep("srv");
  ASSERT_TRUE(launch.has_launch_vm()) << launch.DebugString();
  EXPECT_EQ(launch.launch_vm().guest_id(), "srv/g");
  EXPECT_EQ(launch.launch_vm().vm().accel(), "tcg");
  EXPECT_EQ(launch.launch_vm().vm().guest_iommu(), v1::IOMMU_MODE_STRICT);
  EXPECT_EQ(store_->GetAttempt(launch.attempt_id())->state, AttemptState::kLaunchingVm);

  // The guest's agent registers (never paired on its own), then the host
  // reports the launch.
  RegisterGuest("srv/g", "srv", Probe("strict", "boot-guest"));
  v1::StepUpdate up;
  up.mutable_vm_outcome()->set_guest_id("srv/g");
  up.mutable_vm_outcome()->set_accel("tcg");
  up.mutable_vm_outcome()->set_boot_ms(4200);
  ASSERT_THAT(Send("srv", launch, v1::StepUpdate::PHASE_SUCCEEDED, up), IsOk());
  v1::Step start = gateway_.LastStep("srv/g");
  ASSERT_TRUE(start.has_start_server());
  ASSERT_THAT(Update("srv/g", start, v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
  v1::Step load = gateway_.LastStep("cli");
  ASSERT_TRUE(load.has_run_load());
  ASSERT_THAT(Result("cli", load), IsOk());
  ASSERT_THAT(Update("cli", load, v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
  v1::Step stop = gateway_.LastStep("srv/g");
  ASSERT_TRUE(stop.has_stop_server());
  ASSERT_THAT(Update("srv/g", stop, v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
  // The guest stays up for a next run of its config until the experiment
  // ends; then the host is told to stop it.
  EXPECT_TRUE(gateway_.LastStep("srv").has_launch_vm());
  TickAndVerify();
  EXPECT_EQ(gateway_.LastStep("srv").step_id(), StepId(launch.attempt_id(), StepKind::kCleanup));

  auto attempt = *store_->GetAttempt(launch.attempt_id());
  EXPECT_EQ(attempt.state, AttemptState::kSucceeded);
  EXPECT_EQ(attempt.evidence.at("verify.detected"), "strict");     // the guest's
  EXPECT_EQ(attempt.evidence.at("host.verify.detected"), "lazy");  // the host's
  EXPECT_EQ(attempt.evidence.at("vm.accel"), "tcg");
  EXPECT_EQ((*store_->ListRuns(id))[0].state, RunState::kSucceeded);
}

// A guest whose probe disagrees with its vms entry fails the run, naming
// both modes.
TEST_F(SchedulerTest, AGuestInTheWrongModeFailsTheRun) {
  auto r = scheduler_->Submit(WithVms(kStrictGuest, "g"));
  ASSERT_THAT(r, IsOk());
  ASSERT_GT(r->experiment_id, 0);
  Register("srv", v1::ROLE_SERVER);
  Register("cli", v1::ROLE_CLIENT);
  TickAndVerify();
  v1::Step launch = gateway_.LastStep("srv");
  RegisterGuest("srv/g", "srv", Probe("lazy", "boot-guest"));
  v1::StepUpdate up;
  up.mutable_vm_outcome()->set_guest_id("srv/g");
  ASSERT_THAT(Send("srv", launch, v1::StepUpdate::PHASE_SUCCEEDED, up), IsOk());
  auto run = (*store_->ListRuns(r->experiment_id))[0];
  EXPECT_EQ(run.state, RunState::kFailed);
  EXPECT_EQ(run.error, "srv/g: the guest runs lazy, not the strict its vms entry asks for");
  EXPECT_EQ(gateway_.LastStep("srv").step_id(), StepId(launch.attempt_id(), StepKind::kCleanup));
}

// A KVM guest needs /dev/kvm on the server nodes that may run it: refused
// at submit, naming the node.
TEST_F(SchedulerTest, KvmGuestsNeedKvmOnTheServerNodes) {
  Register("srv", v1::ROLE_SERVER);  // its inventory has no /dev/kvm
  auto r = scheduler_->Submit(WithVms("  g: {viommu: none, accel: kvm}\n", "g"));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->experiment_id, 0);
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_EQ(r->errors[0].Format("t").substr(0, 67),
            "t:13:28: vms.g.accel: node 'srv' has no /dev/kvm, so it cannot run ");
}

// backend: libvirt needs a libvirtd answering the agent.
TEST_F(SchedulerTest, LibvirtGuestsNeedLibvirtOnTheServerNodes) {
  ExpectRefusedThenAdmitted(
      WithVms("  g: {viommu: none, accel: tcg, backend: libvirt}\n", "g"), [](v1::Inventory*) {},
      [](v1::Inventory* inv) { inv->set_libvirt("QEMU 7.2.22"); },
      "t:13:42: vms.g.backend: node 'srv' has no libvirtd answering its agent (install "
      "libvirt-daemon-system and start libvirtd, or set the agent's --libvirt_uri); or use "
      "backend: qemu");
}

// A guest with an assigned VF needs a data NIC with SR-IOV.
TEST_F(SchedulerTest, VfGuestsNeedSriovOnTheServersDataNic) {
  auto nic = [](uint32_t vfs) {
    return [vfs](v1::Inventory* inv) {
      inv->set_data_nic("ens1f0");
      v1::Nic* n = inv->add_nics();
      n->set_name("ens1f0");
      n->set_sriov_totalvfs(vfs);
    };
  };
  ExpectRefusedThenAdmitted(
      WithVms("  g: {viommu: intel, nic: vfio-vf, accel: tcg}\n", "bare-metal, g"), nic(0), nic(8),
      "t:13:27: vms.g.nic: node 'srv' cannot give the guest a VF: its data NIC ens1f0 offers no "
      "SR-IOV VFs (enable SR-IOV in the NIC's firmware); or use nic: virtio");
}

// Nested translation needs iommufd, VT-d nesting and a QEMU with the
// properties it uses: each one the node lacks is named.
TEST_F(SchedulerTest, NestedTranslationNeedsItsHostCapabilities) {
  ExpectRefusedThenAdmitted(
      WithVms("  g: {viommu: intel, nic: vfio-vf, vf_bdf: \"0000:17:00.2\", translation: nested, "
              "accel: tcg}\n",
              "g"),
      [](v1::Inventory* inv) { inv->add_qemu_features("intel-iommu.x-scalable-mode"); },
      [](v1::Inventory* inv) {
        inv->set_iommufd(true);
        inv->set_vtd_nesting(true);
        for (const char* f :
             {"intel-iommu.x-scalable-mode", "intel-iommu.x-flts", "vfio-pci.iommufd"}) {
          inv->add_qemu_features(f);
        }
      },
      "t:13:73: vms.g.translation: node 'srv' cannot run nested translation: it lacks iommufd "
      "(/dev/iommu: a kernel with CONFIG_IOMMUFD), VT-d nesting (ECAP.NEST and scalable mode on "
      "every DMAR unit of an Intel host), QEMU's intel-iommu.x-flts, QEMU's vfio-pci.iommufd; or "
      "use translation: shadow");
}

TEST_F(SchedulerTest, UserAxisValuesReachTheSteps) {
  std::string yaml = kSpec;
  yaml.replace(yaml.find("matrix:\n"), 8, "matrix:\n  clients: [7]\n  io_threads: [3]\n");
  auto r = scheduler_->Submit(yaml);
  ASSERT_THAT(r, IsOk());
  ASSERT_GT(r->experiment_id, 0);
  Register("srv", v1::ROLE_SERVER);
  Register("cli", v1::ROLE_CLIENT);
  TickAndVerify();
  v1::Step start = gateway_.LastStep("srv");
  EXPECT_EQ(start.start_server().io_threads(), 3u);
  ASSERT_THAT(Update("srv", start, v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
  EXPECT_EQ(gateway_.LastStep("cli").run_load().clients(), 7u);
}

TEST_F(SchedulerTest, InvalidSpecWritesNothing) {
  auto r = scheduler_->Submit("name: t\nmatrix: {workload: [nope]}\nworkloads: {}\n");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->experiment_id, 0);
  EXPECT_FALSE(r->errors.empty());
  EXPECT_TRUE(store_->ListExperiments()->empty());
}

std::string StrictSpec() {
  std::string yaml = kSpec;
  yaml.replace(yaml.find("matrix:\n"), 8, "matrix:\n  iommu: [strict]\n");
  return yaml + "timeouts: {boot: 5m}\n";
}

// A node in passthrough gets a SwitchMode step with its vendor's tokens;
// it reports going down, vanishes for longer than the agent grace (but
// within timeouts.boot), comes back with a new boot id, and the probe's
// evidence decides.
TEST_F(SchedulerTest, RebootCycleSwitchesVerifiesAndRuns) {
  auto r = scheduler_->Submit(StrictSpec());
  ASSERT_THAT(r, IsOk());
  v1::Register reg;
  reg.set_agent_id("srv");
  reg.add_roles(v1::ROLE_SERVER);
  reg.set_boot_id("boot-1");
  reg.mutable_inventory()->set_cpu_vendor("AuthenticAMD");
  reg.mutable_probe()->set_data_mode("passthrough");
  std::vector<v1::ControllerMessage> resend;
  ASSERT_THAT(scheduler_->OnRegister(reg, &resend), IsOk());  // re-registered below
  Register("cli", v1::ROLE_CLIENT);
  TickAndVerify();
  v1::Step sw = gateway_.LastStep("srv");
  ASSERT_TRUE(sw.has_switch_mode());
  EXPECT_EQ(sw.switch_mode().mode(), v1::IOMMU_MODE_STRICT);
  EXPECT_EQ(sw.switch_mode().tokens(), "iommu.strict=1");  // AMD's default
  EXPECT_EQ(std::vector<std::string>(sw.switch_mode().methods().begin(),
                                     sw.switch_mode().methods().end()),
            (std::vector<std::string>{"kexec", "grub"}));
  auto state = [&] { return (*store_->ListAttempts(r->experiment_id))[0].state; };
  EXPECT_EQ(state(), AttemptState::kConfiguringBoot);

  ASSERT_THAT(Switched("srv", sw, v1::StepUpdate::PHASE_STARTED, "kexec", "boot-1"), IsOk());
  EXPECT_EQ(state(), AttemptState::kRebooting);
  scheduler_->OnDisconnect("srv");
  clock_.Advance(absl::Seconds(60));  // far beyond agent_grace (10 s)
  scheduler_->OnHeartbeat("cli");
  TickAndVerify();
  EXPECT_EQ(state(), AttemptState::kRebooting);

  reg.set_boot_id("boot-2");
  ASSERT_THAT(scheduler_->OnRegister(reg, &resend), IsOk());
  ASSERT_THAT(Switched("srv", sw, v1::StepUpdate::PHASE_SUCCEEDED, "kexec", "boot-1",
                       Probe("strict", "boot-2")),
              IsOk());
  EXPECT_EQ(state(), AttemptState::kVerifying);
  v1::Step verify = gateway_.LastStep("srv");
  ASSERT_TRUE(verify.has_verify_mode());
  EXPECT_EQ(verify.verify_mode().expected(), v1::IOMMU_MODE_STRICT);
  v1::ProbeReport strict = Probe("strict", "boot-2");
  strict.set_data_mode("strict");
  ASSERT_THAT(Verified("srv", verify, strict, {{"groups", "0:DMA 14:DMA"}}), IsOk());
  EXPECT_EQ(state(), AttemptState::kPreparing);
  EXPECT_TRUE(gateway_.LastStep("srv").has_start_server());
  auto a = (*store_->ListAttempts(r->experiment_id))[0];
  EXPECT_EQ(a.evidence.at("switch.method"), "kexec");
  EXPECT_EQ(a.evidence.at("switch.boot_id"), "boot-2");
  EXPECT_EQ(a.evidence.at("verify.groups"), "0:DMA 14:DMA");
  EXPECT_EQ((*store_->ListNodes())[1].iommu_mode, "strict");  // srv, sorted after cli
}

TEST_F(SchedulerTest, NodeAlreadyInModeIsNotSwitched) {
  auto r = scheduler_->Submit(StrictSpec());
  ASSERT_THAT(r, IsOk());
  ASSERT_NO_FATAL_FAILURE(
      RegisterServer([](v1::Register& reg) { reg.mutable_probe()->set_detected("strict"); }));
  Register("cli", v1::ROLE_CLIENT);
  ASSERT_THAT(scheduler_->Tick(), IsOk());
  v1::Step step = gateway_.LastStep("srv");
  EXPECT_TRUE(step.has_verify_mode());  // straight to verification
  for (const auto& msg : gateway_.sent["srv"]) {
    EXPECT_FALSE(msg.has_assign() && msg.assign().step().has_switch_mode());
  }
}

// A node running Ubuntu 20.04's 5.4 gets the tokens that kernel obeys.
TEST_F(SchedulerTest, SwitchTokensFollowTheNodesKernel) {
  auto r = scheduler_->Submit(StrictSpec());
  ASSERT_THAT(r, IsOk());
  ASSERT_NO_FATAL_FAILURE(RegisterServer([](v1::Register& reg) {
    reg.mutable_inventory()->set_cpu_vendor("GenuineIntel");
    reg.mutable_inventory()->set_kernel_release("5.4.0-216-generic");
  }));
  Register("cli", v1::ROLE_CLIENT);
  ASSERT_THAT(scheduler_->Tick(), IsOk());
  v1::Step sw = gateway_.LastStep("srv");
  ASSERT_TRUE(sw.has_switch_mode());
  EXPECT_EQ(sw.switch_mode().tokens(), "intel_iommu=on,strict iommu.strict=1");
}

// Each repetition in its own boot (the default): the first runs in the boot
// the node is in; the second reboots into the same mode, never in place.
TEST_F(SchedulerTest, TheNextRepetitionRebootsIntoTheSameMode) {
  std::string yaml = StrictSpec();
  yaml.replace(yaml.find("repetitions: 1"), 14, "repetitions: 2");
  auto r = scheduler_->Submit(yaml);
  ASSERT_THAT(r, IsOk());
  ASSERT_GT(r->experiment_id, 0);
  ASSERT_NO_FATAL_FAILURE(RegisterServer([](v1::Register& reg) {
    reg.set_boot_id("boot-srv");
    reg.mutable_probe()->set_detected("strict");
  }));
  Register("cli", v1::ROLE_CLIENT);
  ASSERT_THAT(scheduler_->Tick(), IsOk());
  v1::Step verify = gateway_.LastStep("srv");
  ASSERT_TRUE(verify.has_verify_mode());  // the first repetition: this boot
  ASSERT_THAT(Verified("srv", verify, Probe("strict", "boot-srv")), IsOk());
  ASSERT_GE(RunToCompletion("srv", "cli"), 0);
  ASSERT_THAT(scheduler_->Tick(), IsOk());
  v1::Step sw = gateway_.LastStep("srv");
  ASSERT_TRUE(sw.has_switch_mode()) << sw.DebugString();
  EXPECT_EQ(sw.switch_mode().mode(), v1::IOMMU_MODE_STRICT);
  EXPECT_TRUE(sw.switch_mode().fresh_boot());
  auto attempts = *store_->ListAttempts(r->experiment_id);
  EXPECT_EQ(attempts[1].state, AttemptState::kConfiguringBoot);
  EXPECT_EQ(attempts[1].evidence.at("assigned.fresh_boot"), "true");
  // With repetitions_across_boots: false both run in the one boot.
}

// Submits StrictSpec with srv (mode unknown) and cli registered; returns the
// experiment and the SwitchMode step srv received.
std::pair<int64_t, v1::Step> SchedulerTest::StartStrictAttempt() {
  auto r = scheduler_->Submit(StrictSpec());
  EXPECT_THAT(r, IsOk());
  Register("srv", v1::ROLE_SERVER);
  Register("cli", v1::ROLE_CLIENT);
  EXPECT_THAT(scheduler_->Tick(), IsOk());
  v1::Step sw = gateway_.LastStep("srv");
  EXPECT_TRUE(sw.has_switch_mode());
  return {r.ok() ? r->experiment_id : 0, sw};
}

TEST_F(SchedulerTest, ProbeMismatchFailsWithTheGroupMessage) {
  auto [experiment, sw] = StartStrictAttempt();
  // sysfs switched in place: same boot id is fine.
  ASSERT_THAT(
      Switched("srv", sw, v1::StepUpdate::PHASE_SUCCEEDED, "sysfs", "b", Probe("strict", "b")),
      IsOk());
  v1::Step verify = gateway_.LastStep("srv");
  ASSERT_TRUE(verify.has_verify_mode());
  std::string mismatch = "requested strict, but group 14 (0000:ca:00.0, mlx5_core) has type DMA-FQ";
  ASSERT_THAT(Verified("srv", verify, Probe("lazy", "b", mismatch)), IsOk());
  auto runs = *store_->ListRuns(experiment);
  EXPECT_EQ(runs[0].state, RunState::kFailed);
  EXPECT_EQ(runs[0].error, "srv: " + mismatch);
}

// The scheduler decides on typed outcomes only: free-form evidence saying
// the same thing (an older agent's way) moves nothing.
TEST_F(SchedulerTest, AnUpdateWithoutItsTypedOutcomeFailsNamingIt) {
  auto [experiment, sw] = StartStrictAttempt();
  ASSERT_THAT(Update("srv", sw, v1::StepUpdate::PHASE_SUCCEEDED, "",
                     {{"method", "sysfs"}, {"boot_id_before", "b"}, {"boot_id", "b"}}),
              IsOk());
  auto runs = *store_->ListRuns(experiment);
  EXPECT_EQ(runs[0].state, RunState::kFailed);
  EXPECT_NE(runs[0].error.find("carries no SwitchOutcome"), std::string::npos) << runs[0].error;
}

TEST_F(SchedulerTest, ARebootThatKeepsTheBootIdFails) {
  auto [experiment, sw] = StartStrictAttempt();
  ASSERT_THAT(
      Switched("srv", sw, v1::StepUpdate::PHASE_SUCCEEDED, "grub", "b1", Probe("strict", "b1")),
      IsOk());
  auto runs = *store_->ListRuns(experiment);
  EXPECT_EQ(runs[0].state, RunState::kFailed);
  EXPECT_NE(runs[0].error.find("the node did not reboot"), std::string::npos) << runs[0].error;
}

// The rebooting node's kernel is gone, but its stream closes only minutes
// later (keepalive on a loaded controller): it is still LOST when its boot
// time is up, counted from the reboot, not from the close, and before the
// state's own deadline could fail the attempt as timed out.
TEST_F(SchedulerTest, ARebootingNodeWhoseStreamClosesLateIsLostAtItsBootTimeout) {
  auto [experiment, sw] = StartStrictAttempt();
  ASSERT_THAT(Switched("srv", sw, v1::StepUpdate::PHASE_STARTED, "grub", "b"), IsOk());
  clock_.Advance(absl::Minutes(3));
  scheduler_->OnHeartbeat("cli");
  scheduler_->OnDisconnect("srv");  // noticed now
  ASSERT_THAT(scheduler_->Tick(), IsOk());
  EXPECT_EQ((*store_->ListAttempts(experiment)).back().state, AttemptState::kRebooting);
  clock_.Advance(absl::Minutes(2) + absl::Seconds(1));  // 5m1s > timeouts.boot (5 min)
  scheduler_->OnHeartbeat("cli");
  ASSERT_THAT(scheduler_->Tick(), IsOk());
  auto attempts = *store_->ListAttempts(experiment);
  EXPECT_EQ(attempts[0].state, AttemptState::kLost) << attempts[0].error;
  EXPECT_NE(attempts[0].error.find("did not come back within timeouts.boot (5m)"),
            std::string::npos)
      << attempts[0].error;
}

// A node that does not come back within timeouts.boot is LOST and
// QUARANTINED at once (it hangs or panics in that boot; its next attempt
// would boot it the same way); its run is retried on another pair, or waits
// saying why.
TEST_F(SchedulerTest, NodeThatNeverComesBackIsLostAndQuarantined) {
  std::string yaml = StrictSpec() + "retries: 5\n";
  yaml.replace(yaml.find("retries: 1\n"), 11, "");
  auto r = scheduler_->Submit(yaml);
  ASSERT_THAT(r, IsOk());
  ASSERT_TRUE(r->errors.empty()) << r->errors[0].Format("spec");
  Register("cli", v1::ROLE_CLIENT);
  Register("srv", v1::ROLE_SERVER);
  ASSERT_THAT(scheduler_->Tick(), IsOk());
  v1::Step sw = gateway_.LastStep("srv");
  ASSERT_TRUE(sw.has_switch_mode());
  ASSERT_THAT(Switched("srv", sw, v1::StepUpdate::PHASE_STARTED, "grub", "b"), IsOk());
  scheduler_->OnDisconnect("srv");
  clock_.Advance(absl::Minutes(4));
  scheduler_->OnHeartbeat("cli");
  ASSERT_THAT(scheduler_->Tick(), IsOk());
  EXPECT_EQ((*store_->ListAttempts(r->experiment_id)).back().state, AttemptState::kRebooting);
  clock_.Advance(absl::Minutes(2));  // 6 min > timeouts.boot (5 min)
  scheduler_->OnHeartbeat("cli");
  ASSERT_THAT(scheduler_->Tick(), IsOk());
  auto attempts = *store_->ListAttempts(r->experiment_id);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].state, AttemptState::kLost);
  EXPECT_NE(attempts[0].error.find("did not come back within timeouts.boot (5m)"),
            std::string::npos)
      << attempts[0].error;
  EXPECT_EQ(attempts[1].state, AttemptState::kPending) << "retried";
  for (const auto& a : scheduler_->Agents()) {
    if (a.node.agent_id == "srv") {
      EXPECT_EQ(a.node.health, NodeHealth::kQuarantined);
      EXPECT_EQ(a.node.health_reason,
                "after not coming back from a boot within timeouts.boot (5m)");
    }
  }
  // Back after all, but quarantined: the experiment says why its runs wait.
  Register("srv", v1::ROLE_SERVER);
  ASSERT_THAT(scheduler_->Tick(), IsOk());
  EXPECT_EQ(scheduler_->WaitingReason(r->experiment_id),
            "no eligible pair; servers: srv quarantined after not coming back from a boot "
            "within timeouts.boot (5m) (iommuvm agents --release srv); clients: cli available");
  ASSERT_THAT(scheduler_->ReleaseAgent("srv"), IsOk());
  for (const auto& a : scheduler_->Agents()) {
    if (a.node.agent_id == "srv") {
      EXPECT_EQ(a.node.health_reason, "");
    }
  }
  ASSERT_THAT(scheduler_->Tick(), IsOk());
  EXPECT_EQ(scheduler_->WaitingReason(r->experiment_id), "");
  EXPECT_TRUE(gateway_.LastStep("srv").has_switch_mode()) << "released: runs start again";
  EXPECT_FALSE(scheduler_->ReleaseAgent("nobody").ok());
}

// With a console to read, the loss waits for it (read after the pass,
// without the lock), and the error and the quarantine carry its last lines,
// the kernel's panic line first.
TEST_F(SchedulerTest, NodeNotBackFromABootIsReportedWithItsConsole) {
  SchedulerOptions options = Options();
  std::vector<std::pair<std::string, std::string>> asked;
  options.read_console =
      [&](const std::string& node,
          const std::string& hostname) -> absl::StatusOr<std::vector<std::string>> {
    asked.emplace_back(node, hostname);
    return std::vector<std::string>{
        "[    1.9] Kernel panic - not syncing: VFS: Unable to mount root fs on "
        "unknown-block(0,0)",
        "[    1.9] ---[ end Kernel panic - not syncing: VFS: Unable to mount root fs ]---"};
  };
  Restart(options);
  auto r = scheduler_->Submit(StrictSpec());
  ASSERT_THAT(r, IsOk());
  Register("cli", v1::ROLE_CLIENT);
  Register("srv", v1::ROLE_SERVER);
  ASSERT_THAT(scheduler_->Tick(), IsOk());
  v1::Step sw = gateway_.LastStep("srv");
  ASSERT_THAT(Switched("srv", sw, v1::StepUpdate::PHASE_STARTED, "kexec", "b"), IsOk());
  scheduler_->OnDisconnect("srv");
  clock_.Advance(absl::Minutes(6));
  scheduler_->OnHeartbeat("cli");
  ASSERT_THAT(scheduler_->Tick(), IsOk());  // asks for the console, then reads it
  EXPECT_EQ(asked.size(), 1u);
  ASSERT_THAT(scheduler_->Tick(), IsOk());  // the loss, with it
  EXPECT_EQ(asked.size(), 1u) << "read once";
  auto attempts = *store_->ListAttempts(r->experiment_id);
  EXPECT_EQ(attempts[0].state, AttemptState::kLost);
  EXPECT_NE(attempts[0].error.find(
                "; console: Kernel panic - not syncing: VFS: Unable to mount root fs on "
                "unknown-block(0,0); its last lines: [    1.9] Kernel panic - not syncing: VFS: "
                "Unable to mount root fs on unknown-block(0,0) | [    1.9] ---[ end Kernel panic"),
            std::string::npos)
      << attempts[0].error;
  for (const auto& a : scheduler_->Agents()) {
    if (a.node.agent_id != "srv") continue;
    EXPECT_EQ(a.node.health, NodeHealth::kQuarantined);
    EXPECT_EQ(a.node.health_reason,
              "after not coming back from a boot within timeouts.boot (5m), console: Kernel panic "
              "- not syncing: VFS: Unable to mount root fs on unknown-block(0,0)");
  }
}

// An agent lost while it serves (not booting) is quarantined after the
// third loss only: an outage passes.
TEST_F(SchedulerTest, AgentLostThreeTimesIsQuarantined) {
  std::string yaml = kSpec;
  yaml.replace(yaml.find("retries: 1\n"), 11, "retries: 5\n");
  auto r = scheduler_->Submit(yaml);
  ASSERT_THAT(r, IsOk());
  Register("cli", v1::ROLE_CLIENT);
  for (int loss = 1; loss <= 3; ++loss) {
    Register("srv", v1::ROLE_SERVER);
    TickAndVerify();
    ASSERT_EQ((*store_->ListAttempts(r->experiment_id))[loss - 1].state, AttemptState::kPreparing);
    scheduler_->OnDisconnect("srv");
    clock_.Advance(absl::Seconds(11));
    scheduler_->OnHeartbeat("cli");
    ASSERT_THAT(scheduler_->Tick(), IsOk());
    EXPECT_EQ((*store_->ListAttempts(r->experiment_id))[loss - 1].state, AttemptState::kLost);
    for (const auto& a : scheduler_->Agents()) {
      if (a.node.agent_id != "srv") continue;
      EXPECT_EQ(a.node.health, loss < 3 ? NodeHealth::kReady : NodeHealth::kQuarantined) << loss;
      EXPECT_EQ(a.node.health_reason, loss < 3 ? "" : "after 3 losses");
    }
  }
}

// The cap on an experiment's size is the controller's to set: a spec over
// it is refused at submit, naming the axes that multiply and the flag.
TEST_F(SchedulerTest, TheRunCapIsTheControllersToSet) {
  std::string yaml = kSpec;
  yaml.replace(yaml.find("repetitions: 1\n"), 15, "repetitions: 12\n");
  SchedulerOptions options = Options();
  options.max_runs_per_experiment = 10;
  Restart(options);
  auto r = scheduler_->Submit(yaml);
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_NE(r->errors[0].message.find("expands to up to 12 runs"), std::string::npos)
      << r->errors[0].message;
  EXPECT_NE(r->errors[0].message.find("more than the 10 one experiment may have (the "
                                      "controller's --max_runs_per_experiment)"),
            std::string::npos)
      << r->errors[0].message;
  options.max_runs_per_experiment = 12;
  Restart(options);
  r = scheduler_->Submit(yaml);
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->errors.empty());
}

constexpr char kPlannedSpec[] = R"(name: planned
matrix:
  workload: [a, b, c]
repetitions: 4
order: {randomize: true, seed: 11}
workloads:
  a: {app: redis, generator: {requests: 1000}}
  b: {app: redis, generator: {requests: 2000}}
  c: {app: redis, generator: {requests: 3000}}
)";

// With two pairs, each pair runs exactly the sequence the planner gave it.
TEST_F(SchedulerTest, EachPairRunsItsPlannedSequence) {
  auto submitted = scheduler_->Submit(kPlannedSpec);
  ASSERT_THAT(submitted, IsOk());
  for (const char* id : {"s1", "s2"}) Register(id, v1::ROLE_SERVER);
  for (const char* id : {"c1", "c2"}) Register(id, v1::ROLE_CLIENT);

  spec::ExperimentSpec spec = *spec::ParseSpec(kPlannedSpec).spec;
  planner::Plan plan = planner::MakePlan(
      spec::ExpandMatrix(spec), planner::OptionsForSpec(spec, 2, planner::DefaultSwitchCosts()));
  std::vector<std::vector<int>> expected(2);
  for (size_t p = 0; p < 2; ++p) {
    for (const auto& boot : plan.pairs[p].boots) {
      expected[p].insert(expected[p].end(), boot.runs.begin(), boot.runs.end());
    }
  }
  std::vector<std::vector<int>> actual(2);
  for (int round = 0; round < 20; ++round) {
    TickAndVerify();
    for (int p = 0; p < 2; ++p) {
      std::string n = std::to_string(p + 1);
      int run = RunToCompletion("s" + n, "c" + n);
      if (run >= 0) actual[p].push_back(run);
    }
  }
  EXPECT_EQ(actual, expected);
  EXPECT_EQ((*store_->GetExperiment(submitted->experiment_id)).state, ExperimentState::kSucceeded);
}

// A lost pair's planned runs (and the lost attempt's retry) move to the
// pair that is left.
TEST_F(SchedulerTest, LosingAPairReplansItsRunsOntoTheOthers) {
  auto submitted = scheduler_->Submit(std::string(kPlannedSpec) + "retries: 1\n");
  ASSERT_THAT(submitted, IsOk());
  int64_t id = submitted->experiment_id;
  for (const char* a : {"s1", "s2"}) Register(a, v1::ROLE_SERVER);
  for (const char* a : {"c1", "c2"}) Register(a, v1::ROLE_CLIENT);
  TickAndVerify();
  ASSERT_GE(RunToCompletion("s1", "c1"), 0);
  ASSERT_GE(RunToCompletion("s2", "c2"), 0);
  TickAndVerify();  // both pairs start their second run
  ASSERT_GE(RunToCompletion("s1", "c1"), 0);
  scheduler_->OnDisconnect("s2");  // s2's second run is in PREPARING
  clock_.Advance(absl::Seconds(11));
  for (const char* a : {"s1", "c1"}) scheduler_->OnHeartbeat(a);  // the others are alive
  for (int round = 0; round < 20; ++round) {
    TickAndVerify();
    RunToCompletion("s1", "c1");
  }
  auto attempts = *store_->ListAttempts(id);
  EXPECT_EQ(attempts.size(), 13u);  // 12 runs, one retried
  int on_s2 = 0, lost = 0;
  for (const auto& a : attempts) {
    on_s2 += a.server_node == "s2";
    lost += a.state == AttemptState::kLost;
    if (a.state != AttemptState::kLost) {
      EXPECT_EQ(a.state, AttemptState::kSucceeded) << a.id;
    }
  }
  EXPECT_EQ(on_s2, 2);
  EXPECT_EQ(lost, 1);
  EXPECT_EQ((*store_->GetExperiment(id)).state, ExperimentState::kSucceeded);
}

TEST_F(SchedulerTest, NodesMustHaveTheToolsTheSpecNeeds) {
  v1::Register reg;
  reg.set_agent_id("bare-client");
  reg.add_roles(v1::ROLE_CLIENT);
  (*reg.mutable_software_versions())["wrk"] = "wrk 4.1.0";
  std::vector<v1::ControllerMessage> resend;
  ASSERT_THAT(scheduler_->OnRegister(reg, &resend), IsOk());
  Register("srv", v1::ROLE_SERVER);
  auto r = scheduler_->Submit(kSpec);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->experiment_id, 0);
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_EQ(r->errors[0].Format("f"),
            "f:10:7: workloads.w.generator.tool: node 'bare-client' (client) does not have "
            "redis-benchmark; it has wrk. Install it there, or choose nodes with "
            "nodes.pairs/selector");
}

// Explicit pairs must name registered agents with the right roles; the
// errors point into the file and nothing is stored.
TEST_F(SchedulerTest, PairsMustNameRegisteredAgents) {
  Register("node-a", v1::ROLE_SERVER);
  Register("node-b", v1::ROLE_SERVER);
  std::string yaml = std::string(kSpec) +
                     "nodes:\n  pairs:\n    - {server: node-a, client: node-b}\n"
                     "    - {server: node-x, client: nodec}\n";
  auto r = scheduler_->Submit(yaml);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->experiment_id, 0);
  ASSERT_EQ(r->errors.size(), 3u);
  EXPECT_EQ(r->errors[0].Format("f"),
            "f:13:32: nodes.pairs[0].client: agent 'node-b' does not have the client role; "
            "start it with --roles=client (or server,client)");
  EXPECT_EQ(r->errors[1].Format("f"),
            "f:14:16: nodes.pairs[1].server: no agent 'node-x' has registered with this "
            "controller (did you mean 'node-a'?); known: node-a, node-b");
  EXPECT_EQ(r->errors[2].key_path, "nodes.pairs[1].client");
  EXPECT_TRUE(store_->ListExperiments()->empty());
}

// Adaptive repetitions through the store: a steady metric stops at min, a
// noisy one gets runs added (numbered after the last, shown as an event)
// until max, and the experiment ends only then.
TEST_F(SchedulerTest, AdaptiveRepetitionsStopAtTheTargetOrAtMax) {
  constexpr char kAdaptive[] = R"(name: t
matrix:
  workload: [w]
repetitions: {min: 3, max: 6, until_ci_below: 2%}
workloads:
  w:
    app: redis
    generator:
      requests: 1000
)";
  Register("srv", v1::ROLE_SERVER);
  Register("cli", v1::ROLE_CLIENT);
  auto run_all = [&](int64_t id) {
    for (int i = 0; i < 20 && store_->GetExperiment(id)->state == ExperimentState::kRunning; ++i) {
      TickAndVerify();
      RunToCompletion("srv", "cli");
      TickAndVerify();
    }
  };
  auto steady = scheduler_->Submit(kAdaptive);
  ASSERT_THAT(steady, IsOk());
  int64_t id = steady->experiment_id;
  TickAndVerify();
  run_all(id);
  EXPECT_EQ(store_->GetExperiment(id)->state, ExperimentState::kSucceeded);
  EXPECT_EQ(store_->ListRuns(id)->size(), 3u);

  int n = 0;
  throughput_ = [&n] { return ++n % 2 ? 500.0 : 1500.0; };
  auto noisy = scheduler_->Submit(kAdaptive);
  ASSERT_THAT(noisy, IsOk());
  id = noisy->experiment_id;
  TickAndVerify();
  run_all(id);
  EXPECT_EQ(store_->GetExperiment(id)->state, ExperimentState::kSucceeded);
  auto runs = *store_->ListRuns(id);
  ASSERT_EQ(runs.size(), 6u);
  EXPECT_EQ(runs.back().point.repetition, 6u);
  EXPECT_EQ(runs.back().point.index, 5u);
  for (const auto& r : runs) EXPECT_EQ(r.state, RunState::kSucceeded);
}

// `rerun`: a failed run gets a new attempt in the same experiment, which
// reopens and succeeds; the failed attempt stays in the history.
TEST_F(SchedulerTest, RerunQueuesTheFailedRunAgainInTheSameExperiment) {
  int64_t id = Submit();
  Register("srv", v1::ROLE_SERVER);
  Register("cli", v1::ROLE_CLIENT);
  TickAndVerify();
  v1::Step start = gateway_.LastStep("srv");
  ASSERT_THAT(Update("srv", start, v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
  ASSERT_THAT(Update("cli", gateway_.LastStep("cli"), v1::StepUpdate::PHASE_FAILED,
                     "redis-benchmark: not found"),
              IsOk());
  ASSERT_THAT(Update("srv", gateway_.LastStep("srv"), v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
  TickAndVerify();
  ASSERT_EQ(store_->GetExperiment(id)->state, ExperimentState::kFailed);

  auto nothing = scheduler_->Rerun(id, /*failed=*/false, /*unsteady=*/true, {});
  ASSERT_THAT(nothing, IsOk());
  EXPECT_TRUE(nothing->empty());
  EXPECT_TRUE(absl::IsInvalidArgument(scheduler_->Rerun(id, true, false, {"colour=red"}).status()));
  auto queued = scheduler_->Rerun(id, /*failed=*/true, /*unsteady=*/false, {"workload=w"});
  ASSERT_THAT(queued, IsOk());
  EXPECT_EQ(*queued, (std::vector<uint32_t>{0}));
  EXPECT_EQ(store_->GetExperiment(id)->state, ExperimentState::kRunning);
  EXPECT_EQ((*store_->ListRuns(id))[0].state, RunState::kPending);
  TickAndVerify();
  EXPECT_EQ(RunToCompletion("srv", "cli"), 0);
  TickAndVerify();
  EXPECT_EQ(store_->GetExperiment(id)->state, ExperimentState::kSucceeded);
  auto attempts = *store_->ListAttempts(id);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].state, AttemptState::kFailed);
  EXPECT_EQ(attempts[1].state, AttemptState::kSucceeded);
}

// Server cores across NUMA nodes, or away from the data NIC's node, are
// accepted with a warning naming the node and the split; auto never warns.
TEST_F(SchedulerTest, ServerCoresAcrossNumaNodesAreWarnedAbout) {
  RegisterServer([](v1::Register& reg) {
    (*reg.mutable_software_versions())["redis-server"] = "7.0.15";
    v1::Inventory* inv = reg.mutable_inventory();
    inv->add_numa_cpulists("0-35,72-107");
    inv->add_numa_cpulists("36-71,108-143");
    inv->set_data_nic("enp202s0f0np0");
    v1::Nic* nic = inv->add_nics();
    nic->set_name("enp202s0f0np0");
    nic->set_numa_node(1);
  });
  auto submit = [&](const std::string& cores) {
    std::string spec = std::string(kSpec) + "";
    spec.replace(spec.find("    generator:"), 0, "    server: {cores: \"" + cores + "\"}\n");
    auto r = scheduler_->Submit(spec);
    EXPECT_THAT(r, IsOk());
    EXPECT_GT(r->experiment_id, 0);
    std::string all;
    for (const auto& w : r->warnings) all += w.Format("t") + "\n";
    return all;
  };
  std::string split = submit("30-39");
  EXPECT_NE(split.find("workloads.w.server.cores: on 'srv' the cores 30-39 span NUMA nodes (6 on "
                       "node 0, 4 on node 1)"),
            std::string::npos)
      << split;
  std::string remote = submit("0-7");
  EXPECT_NE(remote.find("are on NUMA node 0 but its data NIC enp202s0f0np0 is on node 1"),
            std::string::npos)
      << remote;
  EXPECT_EQ(submit("36-43"), "");
  EXPECT_EQ(submit("auto:8"), "");
  // `iommuvm validate --nodes`: the same warnings, nothing stored.
  size_t experiments = store_->ListExperiments()->size();
  std::string spec = kSpec;
  spec.replace(spec.find("    generator:"), 0, "    server: {cores: \"30-39\"}\n");
  auto checked = scheduler_->Submit(spec, /*validate_only=*/true);
  ASSERT_THAT(checked, IsOk());
  EXPECT_EQ(checked->experiment_id, 0);
  ASSERT_EQ(checked->warnings.size(), 1u);
  EXPECT_EQ(store_->ListExperiments()->size(), experiments);
}

}  // namespace
}  // namespace iommuvm::scheduler
