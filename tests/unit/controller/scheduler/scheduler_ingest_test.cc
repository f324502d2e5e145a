// What the scheduler takes from agents and what it refuses: one result set
// per attempt, messages only from the attempt's own nodes, rejections
// recorded, a new outbox told to continue after the committed sequence.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/unit/controller/scheduler/scheduler_fixture.h"

namespace iommuvm::scheduler {
namespace {

v1::AgentMessage ResultMessage(uint64_t seq, const v1::Step& load) {
  v1::AgentMessage m;
  m.set_seq(seq);
  v1::RunResult* r = m.mutable_run_result();
  r->set_step_id(load.step_id());
  r->set_attempt_id(load.attempt_id());
  r->set_tool("redis-benchmark");
  r->add_operations()->set_throughput_ops(1000);
  return m;
}

class SchedulerIngestTest : public SchedulerTest {
 protected:
  // Submits, registers srv/cli, starts the server; returns the load step.
  v1::Step StartLoad() {
    Submit();
    Register("srv", v1::ROLE_SERVER);
    Register("cli", v1::ROLE_CLIENT);
    TickAndVerify();
    v1::Step start = gateway_.LastStep("srv");
    EXPECT_THAT(Update("srv", start, v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
    return gateway_.LastStep("cli");
  }
};

// iommuvm_ingest_rejected_total{kind} as /metrics would show it.
double RejectedOnMetrics(const ControllerMetrics& metrics, const std::string& kind) {
  for (const auto& family : metrics.registry()->Collect()) {
    if (family.name != "iommuvm_ingest_rejected_total") continue;
    for (const auto& m : family.metric) {
      if (m.label.size() == 1 && m.label[0].value == kind) return m.counter.value;
    }
  }
  return -1;  // absent
}

TEST_F(SchedulerIngestTest, ASecondResultSetForAnAttemptIsRefusedAndRecorded) {
  ControllerMetrics metrics;
  Restart(Options(), &metrics);
  v1::Step load = StartLoad();
  EXPECT_EQ(RejectedOnMetrics(metrics, "run_result"), -1);
  auto first = scheduler_->OnData("cli", ResultMessage(++seq_["cli"], load));
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->rejected, "");
  // The agent crashed after its result and ran the load again.
  auto second = scheduler_->OnData("cli", ResultMessage(++seq_["cli"], load));
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->rejected, "attempt 1 already has a result set; refusing a second");
  EXPECT_EQ(store_->ResultsOfAttempt(load.attempt_id())->size(), 1u);
  auto rejections = *store_->Rejections();
  ASSERT_TRUE(rejections.count("cli"));
  EXPECT_EQ(rejections["cli"].count, 1);
  EXPECT_EQ(rejections["cli"].last_seq, seq_["cli"]);
  EXPECT_EQ(RejectedOnMetrics(metrics, "run_result"), 1);
  // Resent copies of the rejected message are duplicates, not new rejections.
  auto again = scheduler_->OnData("cli", ResultMessage(seq_["cli"], load));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ((*store_->Rejections())["cli"].count, 1);
  EXPECT_EQ(RejectedOnMetrics(metrics, "run_result"), 1);
  // The attempt goes on as if the second had never come.
  ASSERT_THAT(Update("cli", load, v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
  EXPECT_TRUE(gateway_.LastStep("srv").has_stop_server());
}

TEST_F(SchedulerIngestTest, OnlyTheAttemptsOwnNodesSpeakForIt) {
  v1::Step load = StartLoad();
  Register("mallory", v1::ROLE_CLIENT);
  // A failure of the attempt's load step, from a node that is not its client.
  v1::AgentMessage fake;
  fake.set_seq(1);
  v1::StepUpdate* u = fake.mutable_step_update();
  u->set_step_id(load.step_id());
  u->set_attempt_id(load.attempt_id());
  u->set_phase(v1::StepUpdate::PHASE_FAILED);
  u->set_error("forged");
  auto r = scheduler_->OnData("mallory", fake);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->rejected, "agent mallory is not a node of attempt 1 (server srv, client cli)");
  // Nor its results or samples.
  r = scheduler_->OnData("mallory", ResultMessage(2, load));
  ASSERT_THAT(r, IsOk());
  EXPECT_NE(r->rejected, "");
  v1::AgentMessage batch;
  batch.set_seq(3);
  batch.mutable_metric_batch()->set_attempt_id(load.attempt_id());
  batch.mutable_metric_batch()->add_samples()->set_name("x");
  r = scheduler_->OnData("mallory", batch);
  ASSERT_THAT(r, IsOk());
  EXPECT_NE(r->rejected, "");
  // The server node cannot report the client's step either.
  r = scheduler_->OnData("srv", [&] {
    v1::AgentMessage m = fake;
    m.set_seq(++seq_["srv"]);
    return m;
  }());
  ASSERT_THAT(r, IsOk());
  EXPECT_NE(r->rejected, "");
  auto a = *store_->GetAttempt(load.attempt_id());
  EXPECT_EQ(a.state, AttemptState::kRunning);
  EXPECT_EQ(*store_->CountSamples(a.id), 0u);
  EXPECT_EQ((*store_->Rejections())["mallory"].count, 3);
  // The real client still completes the run.
  ASSERT_THAT(Result("cli", load), IsOk());
  ASSERT_THAT(Update("cli", load, v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
  EXPECT_TRUE(gateway_.LastStep("srv").has_stop_server());
}

// Metric batches from many sessions at once are applied in groups (one
// transaction each): every batch is stored exactly once, resent copies are
// duplicates, and each agent's committed sequence is its last.
TEST_F(SchedulerIngestTest, MetricBatchesFromManySessionsAtOnceAreStoredExactlyOnce) {
  ControllerMetrics metrics;
  Restart(Options(), &metrics);
  v1::Step load = StartLoad();
  constexpr int kBatches = 200;
  auto batch = [&](uint64_t seq) {
    v1::AgentMessage m;
    m.set_seq(seq);
    m.mutable_metric_batch()->set_attempt_id(load.attempt_id());
    for (int i = 0; i < 3; ++i) m.mutable_metric_batch()->add_samples()->set_name("x");
    return m;
  };
  uint64_t first_srv = seq_["srv"] + 1, first_cli = seq_["cli"] + 1;
  std::atomic<int> failures{0};
  std::vector<std::thread> sessions;
  for (const auto& [agent, first] : {std::pair{"srv", first_srv}, {"cli", first_cli}}) {
    for (int copy = 0; copy < 2; ++copy) {  // each batch also resent, concurrently
      sessions.emplace_back([&, agent = std::string(agent), first = first] {
        for (uint64_t seq = first; seq < first + kBatches; ++seq) {
          auto r = scheduler_->OnData(agent, batch(seq));
          if (!r.ok() || !r->rejected.empty()) ++failures;
        }
      });
    }
  }
  for (auto& t : sessions) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(*store_->CountSamples(load.attempt_id()), 2u * kBatches * 3);
  EXPECT_EQ(*store_->CommittedSeq("srv"), first_srv + kBatches - 1);
  EXPECT_EQ(*store_->CommittedSeq("cli"), first_cli + kBatches - 1);
  EXPECT_EQ(store_->Rejections()->size(), 0u);
}

// In a group, an agent's message after one of its own that failed is not
// applied: committed past it, the failed one would be dropped by the agent
// on reconnecting (it drops what is at or below the committed sequence).
// Other agents' messages, and a result between batches, apply in order.
TEST_F(SchedulerIngestTest, AGroupNeverCommitsAnAgentsMessagePastOneOfItsOwnThatFailed) {
  v1::Step load = StartLoad();
  auto batch = [&](uint64_t seq) {
    v1::AgentMessage m;
    m.set_seq(seq);
    m.mutable_metric_batch()->set_attempt_id(load.attempt_id());
    m.mutable_metric_batch()->add_samples()->set_name("x");
    return m;
  };
  uint64_t srv = seq_["srv"], cli = seq_["cli"];
  v1::AgentMessage unnumbered = batch(0);  // cannot be stored: no sequence number
  v1::AgentMessage srv_after = batch(srv + 1), cli_first = batch(cli + 1),
                   cli_result = ResultMessage(cli + 2, load), cli_last = batch(cli + 3);
  auto outcomes = scheduler_->OnDataGroup({{"cli", &cli_first},
                                           {"srv", &unnumbered},
                                           {"cli", &cli_result},
                                           {"srv", &srv_after},
                                           {"cli", &cli_last}});
  ASSERT_EQ(outcomes.size(), 5u);
  EXPECT_THAT(outcomes[0], IsOk());
  EXPECT_THAT(outcomes[1], StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sequence")));
  EXPECT_THAT(outcomes[2], IsOk());
  EXPECT_THAT(outcomes[3], StatusIs(absl::StatusCode::kUnavailable,
                                    HasSubstr("an earlier message of this agent")));
  EXPECT_THAT(outcomes[4], IsOk());
  EXPECT_EQ(*store_->CommittedSeq("srv"), srv);
  EXPECT_EQ(*store_->CommittedSeq("cli"), cli + 3);
  EXPECT_EQ(*store_->CountSamples(load.attempt_id()), 2u);
  EXPECT_EQ(store_->ResultsOfAttempt(load.attempt_id())->size(), 1u);
}

TEST_F(SchedulerIngestTest, ANewOutboxUnderAKnownIdContinuesAfterTheCommittedSequence) {
  auto reg = [&](const std::string& epoch) {
    v1::Register r;
    r.set_agent_id("cli");
    r.add_roles(v1::ROLE_CLIENT);
    r.set_outbox_epoch(epoch);
    std::vector<v1::ControllerMessage> resend;
    auto ack = scheduler_->OnRegister(r, &resend);
    EXPECT_THAT(ack, IsOk());
    return *ack;
  };
  v1::RegisterAck ack = reg("epoch-a");
  EXPECT_EQ(ack.committed_seq(), 0u);
  EXPECT_FALSE(ack.new_outbox());
  v1::AgentMessage late;
  late.mutable_metric_batch()->set_attempt_id(99);
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    late.set_seq(seq);
    ASSERT_THAT(scheduler_->OnData("cli", late), IsOk());
  }
  ack = reg("epoch-a");  // a reconnect: same outbox
  EXPECT_EQ(ack.committed_seq(), 3u);
  EXPECT_FALSE(ack.new_outbox());
  ack = reg("epoch-b");  // the state directory was wiped
  EXPECT_EQ(ack.committed_seq(), 3u);
  EXPECT_TRUE(ack.new_outbox());
  ack = reg("epoch-b");
  EXPECT_FALSE(ack.new_outbox());
}

// A frozen agent keeps its stream open but stops heartbeating: it gets no
// new work (which would be lost at once, again and again).
TEST_F(SchedulerIngestTest, AFrozenAgentGetsNoNewWork) {
  Submit();
  Register("srv", v1::ROLE_SERVER);
  Register("cli", v1::ROLE_CLIENT);
  clock_.Advance(absl::Seconds(11));  // past the 10 s grace; srv stays silent
  scheduler_->OnHeartbeat("cli");
  for (int i = 0; i < 3; ++i) ASSERT_THAT(scheduler_->Tick(), IsOk());
  auto attempts = *store_->ListAttempts(1);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].state, AttemptState::kPending);
  // Heard from again: the work starts.
  scheduler_->OnHeartbeat("srv");
  TickAndVerify();
  EXPECT_TRUE(gateway_.LastStep("srv").has_start_server());
}

// A cleanup for a node that is away when its attempt ends is durable: it
// is sent when the node registers again, until the node reports it done.
TEST_F(SchedulerIngestTest, ACleanupReachesAServerThatWasAway) {
  v1::Step load = StartLoad();
  scheduler_->OnDisconnect("srv");
  ASSERT_THAT(Update("cli", load, v1::StepUpdate::PHASE_FAILED, "wrk: bad request"), IsOk());
  auto resend_on_register = [&] {
    v1::Register reg;
    reg.set_agent_id("srv");
    reg.add_roles(v1::ROLE_SERVER);
    std::vector<v1::ControllerMessage> resend;
    EXPECT_THAT(scheduler_->OnRegister(reg, &resend), IsOk());
    std::vector<std::string> ids;
    for (const auto& m : resend) ids.push_back(m.assign().step().step_id());
    return ids;
  };
  std::string cleanup = StepId(load.attempt_id(), StepKind::kCleanup);
  EXPECT_EQ(resend_on_register(), std::vector<std::string>{cleanup});
  EXPECT_EQ(resend_on_register(), std::vector<std::string>{cleanup}) << "until it is done";
  v1::Step step;
  step.set_step_id(cleanup);
  step.set_attempt_id(load.attempt_id());
  ASSERT_THAT(Update("srv", step, v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
  EXPECT_TRUE(resend_on_register().empty());
}

}  // namespace
}  // namespace iommuvm::scheduler
