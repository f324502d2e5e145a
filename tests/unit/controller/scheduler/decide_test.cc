// The attempt state machine's decisions as a table, without a database:
// each row is an attempt in the state its current step implies, the
// agent's update, and what must follow.
#include "controller/scheduler/decide.h"

#include <gtest/gtest.h>

#include <functional>

#include "tests/unit/controller/scheduler/probe_report.h"

namespace iommuvm::scheduler {
namespace {

using store::AttemptState;

v1::StepUpdate Switched(const std::string& method, const std::string& before,
                        const std::string& after) {
  v1::StepUpdate u;
  u.set_phase(v1::StepUpdate::PHASE_SUCCEEDED);
  u.mutable_switch_outcome()->set_method(method);
  u.mutable_switch_outcome()->set_boot_id_before(before);
  *u.mutable_switch_outcome()->mutable_probe() = Probe("strict", after);
  return u;
}

// The STARTED update of a switch that reboots the node.
v1::StepUpdate GoingDown(const std::string& method) {
  v1::StepUpdate u;
  u.set_phase(v1::StepUpdate::PHASE_STARTED);
  u.mutable_switch_outcome()->set_method(method);
  u.mutable_switch_outcome()->set_rebooting(true);
  return u;
}

v1::StepUpdate Verified(const v1::ProbeReport& p) {
  v1::StepUpdate u;
  u.set_phase(v1::StepUpdate::PHASE_SUCCEEDED);
  *u.mutable_probe() = p;
  (*u.mutable_evidence())["groups"] = "0:DMA 14:DMA";
  return u;
}

v1::StepUpdate Succeeded() {
  v1::StepUpdate u;
  u.set_phase(v1::StepUpdate::PHASE_SUCCEEDED);
  u.set_endpoint_host("10.0.0.1");
  u.set_endpoint_port(6379);
  return u;
}

struct Row {
  std::string name;
  AttemptState state;  // the attempt's state while `kind` runs
  StepKind kind;
  v1::StepUpdate update;
  StepFacts facts;
  AttemptState to;
  std::optional<StepKind> next;
  std::string error;  // a substring of the error when the attempt ends
  bool transient = false;
  std::function<void(const Decision&)> also = [](const Decision&) {};
};

void PrintTo(const Row& r, std::ostream* os) { *os << r.name; }

class DecideTest : public ::testing::TestWithParam<Row> {};

TEST_P(DecideTest, FollowsTheStateMachine) {
  const Row& r = GetParam();
  store::AttemptRecord a;
  a.id = 7;
  a.state = r.state;
  a.server_node = "srv";
  a.client_node = "cli";
  Decision d = Decide(a, r.kind, "srv", r.update, r.facts);
  EXPECT_EQ(d.to, r.to);
  EXPECT_EQ(d.next, r.next);
  if (r.error.empty()) {
    EXPECT_FALSE(d.error) << *d.error;
  } else {
    ASSERT_TRUE(d.error);
    EXPECT_NE(d.error->find(r.error), std::string::npos) << *d.error;
    EXPECT_EQ(d.transient, r.transient);
  }
  r.also(d);
}

StepFacts WithResult() {
  StepFacts f;
  f.has_result = true;
  return f;
}

StepFacts Judged(std::optional<std::string> failure, std::string unsteady = "") {
  StepFacts f;
  f.load.failure = std::move(failure);
  f.load.unsteady = std::move(unsteady);
  return f;
}

v1::StepUpdate Failed(const std::string& error, bool transient) {
  v1::StepUpdate u;
  u.set_phase(v1::StepUpdate::PHASE_FAILED);
  u.set_error(error);
  u.set_transient(transient);
  return u;
}

INSTANTIATE_TEST_SUITE_P(
    Table, DecideTest,
    ::testing::Values(
        Row{"a_failed_step_ends_the_attempt_as_the_agent_says",
            AttemptState::kRunning,
            StepKind::kRunLoad,
            Failed("Connection reset by peer", true),
            {},
            AttemptState::kFailed,
            std::nullopt,
            "srv: Connection reset by peer",
            true,
            [](const Decision& d) { EXPECT_TRUE(d.count_samples); }},
        Row{"a_node_going_down_to_switch_is_rebooting",
            AttemptState::kConfiguringBoot,
            StepKind::kSwitchMode,
            GoingDown("kexec"),
            {},
            AttemptState::kRebooting,
            std::nullopt,
            "",
            false,
            [](const Decision& d) {
              EXPECT_EQ(d.from, AttemptState::kConfiguringBoot);
              EXPECT_TRUE(d.await_node);
              EXPECT_EQ(d.evidence.at("switch.method"), "kexec");
            }},
        Row{"the_clients_own_switch_goes_down_the_same_way",
            AttemptState::kConfiguringBoot,
            StepKind::kSwitchClient,
            GoingDown("grub"),
            {},
            AttemptState::kRebooting,
            std::nullopt,
            ""},
        Row{"a_started_switch_in_place_decides_nothing",
            AttemptState::kConfiguringBoot,
            StepKind::kSwitchMode,
            [] {
              v1::StepUpdate u = GoingDown("sysfs");
              u.mutable_switch_outcome()->set_rebooting(false);
              return u;
            }(),
            {},
            AttemptState::kConfiguringBoot,
            std::nullopt,
            "",
            false,
            [](const Decision& d) { EXPECT_EQ(d.from, d.to); }},
        Row{"a_started_load_decides_nothing",
            AttemptState::kRunning,
            StepKind::kRunLoad,
            [] {
              v1::StepUpdate u;
              u.set_phase(v1::StepUpdate::PHASE_STARTED);
              return u;
            }(),
            {},
            AttemptState::kRunning,
            std::nullopt,
            ""},
        Row{"a_switch_without_its_outcome_is_an_old_agent",
            AttemptState::kRebooting,
            StepKind::kSwitchMode,
            Succeeded(),
            {},
            AttemptState::kFailed,
            std::nullopt,
            "carries no SwitchOutcome"},
        Row{"a_reboot_must_change_the_boot_id",
            AttemptState::kRebooting,
            StepKind::kSwitchMode,
            Switched("kexec", "b1", "b1"),
            {},
            AttemptState::kFailed,
            std::nullopt,
            "the node did not reboot"},
        Row{"sysfs_switches_in_place",
            AttemptState::kConfiguringBoot,
            StepKind::kSwitchMode,
            Switched("sysfs", "b1", "b1"),
            {},
            AttemptState::kVerifying,
            StepKind::kVerifyMode,
            "",
            false,
            [](const Decision& d) { EXPECT_EQ(d.evidence.at("switch.method"), "sysfs"); }},
        Row{"a_reboot_into_a_new_boot_is_verified",
            AttemptState::kRebooting,
            StepKind::kSwitchMode,
            Switched("kexec", "b1", "b2"),
            {},
            AttemptState::kVerifying,
            StepKind::kVerifyMode,
            "",
            false,
            [](const Decision& d) {
              EXPECT_EQ(d.evidence.at("switch.boot_id"), "b2");
              EXPECT_EQ(d.events.at(0).second, "with kexec, now strict");
            }},
        Row{"a_client_back_in_its_mode_lets_the_server_be_verified",
            AttemptState::kRebooting,
            StepKind::kSwitchClient,
            Switched("kexec", "c1", "c2"),
            {},
            AttemptState::kVerifying,
            StepKind::kVerifyMode,
            "",
            false,
            [](const Decision& d) {
              ASSERT_TRUE(d.client_switched);
              EXPECT_FALSE(d.verified);  // the server's mode is not the client's
              EXPECT_EQ(d.evidence.at("client.detected"), "strict");
              EXPECT_EQ(d.evidence.at("client.boot_id"), "c2");
              EXPECT_EQ(d.evidence.at("client.switch.method"), "kexec");
            }},
        Row{"a_client_that_did_not_reboot_fails",
            AttemptState::kRebooting,
            StepKind::kSwitchClient,
            Switched("kexec", "c1", "c1"),
            {},
            AttemptState::kFailed,
            std::nullopt,
            "(client): switched with kexec but the boot id is unchanged"},
        Row{"a_client_in_another_mode_fails_with_the_probes_words",
            AttemptState::kRebooting,
            StepKind::kSwitchClient,
            [] {
              v1::StepUpdate u = Switched("kexec", "c1", "c2");
              *u.mutable_switch_outcome()->mutable_probe() =
                  Probe("lazy", "c2", "group 3 has type DMA-FQ");
              return u;
            }(),
            {},
            AttemptState::kFailed,
            std::nullopt,
            "srv (client): group 3 has type DMA-FQ"},
        Row{"a_mismatch_fails_with_the_probes_words_and_keeps_its_evidence",
            AttemptState::kVerifying,
            StepKind::kVerifyMode,
            Verified(Probe("lazy", "b2", "group 14 has type DMA-FQ")),
            {},
            AttemptState::kFailed,
            std::nullopt,
            "srv: group 14 has type DMA-FQ",
            false,
            [](const Decision& d) {
              EXPECT_EQ(d.evidence.at("verify.detected"), "lazy");
              EXPECT_FALSE(d.verified);
            }},
        Row{"a_verified_mode_starts_the_server",
            AttemptState::kVerifying,
            StepKind::kVerifyMode,
            Verified(Probe("strict", "b2")),
            {},
            AttemptState::kPreparing,
            StepKind::kStartServer,
            "",
            false,
            [](const Decision& d) {
              ASSERT_TRUE(d.verified);
              EXPECT_EQ(d.verified->boot_id(), "b2");
              EXPECT_EQ(d.evidence.at("verify.groups"), "0:DMA 14:DMA");
            }},
        Row{"a_ready_server_gets_its_load",
            AttemptState::kPreparing,
            StepKind::kStartServer,
            Succeeded(),
            {},
            AttemptState::kRunning,
            StepKind::kRunLoad,
            "",
            false,
            [](const Decision& d) {
              EXPECT_EQ(d.endpoint, std::make_pair(std::string("10.0.0.1"), 6379u));
            }},
        Row{"a_load_without_a_result_fails",
            AttemptState::kRunning,
            StepKind::kRunLoad,
            Succeeded(),
            {},
            AttemptState::kFailed,
            std::nullopt,
            "load generator finished without a result"},
        Row{"a_measured_load_stops_the_server", AttemptState::kRunning, StepKind::kRunLoad,
            Succeeded(), WithResult(), AttemptState::kCollecting, StepKind::kStopServer, "", false},
        Row{"a_stall_in_the_servers_telemetry_is_retried", AttemptState::kCollecting,
            StepKind::kStopServer, Succeeded(), Judged("no server telemetry for the load window"),
            AttemptState::kFailed, std::nullopt, "srv: no server telemetry", true,
            [](const Decision& d) { EXPECT_TRUE(d.keep_artifacts); }},
        Row{"a_steady_load_succeeds", AttemptState::kCollecting, StepKind::kStopServer, Succeeded(),
            Judged(std::nullopt), AttemptState::kSucceeded, std::nullopt, "", false,
            [](const Decision& d) {
              EXPECT_TRUE(d.run_succeeded);
              EXPECT_TRUE(d.keep_artifacts);
              EXPECT_FALSE(d.evidence.count(store::kUnsteadyKey));
            }},
        Row{"a_partly_degraded_load_counts_marked_unsteady", AttemptState::kCollecting,
            StepKind::kStopServer, Succeeded(), Judged(std::nullopt, "interval 3 at 41%"),
            AttemptState::kSucceeded, std::nullopt, "", false,
            [](const Decision&
                   d) { EXPECT_EQ(d.evidence.at(store::kUnsteadyKey), "interval 3 at 41%"); }}),
    [](const ::testing::TestParamInfo<Row>& info) { return info.param.name; });

}  // namespace
}  // namespace iommuvm::scheduler
