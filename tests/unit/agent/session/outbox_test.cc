
#include "agent/session/outbox.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "agent/session/message_bounds.h"
#include "tests/support/status_matchers.h"

namespace iommuvm::agent {
namespace {

using ::iommuvm::testing::IsOk;

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("outbox_test_" + std::to_string(::getpid()) + ".db"))
                .string();
    Remove();
  }
  void TearDown() override { Remove(); }
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }
  static v1::AgentMessage Batch(int64_t attempt) {
    v1::AgentMessage m;
    m.mutable_metric_batch()->set_attempt_id(attempt);
    return m;
  }
  std::string path_;
};

TEST_F(OutboxTest, SequenceNumbersSurviveReopenAndAcks) {
  {
    auto box = *Outbox::Open(path_);
    EXPECT_EQ(*box->Enqueue(Batch(1)), 1u);
    EXPECT_EQ(*box->Enqueue(Batch(2)), 2u);
    EXPECT_EQ(*box->Enqueue(Batch(3)), 3u);
    ASSERT_THAT(box->Ack(2), IsOk());
  }
  auto box = *Outbox::Open(path_);
  auto pending = *box->After(0, 10);
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].seq(), 1u);
  EXPECT_EQ(pending[0].metric_batch().attempt_id(), 1);
  EXPECT_EQ(pending[1].seq(), 3u);
  EXPECT_EQ(box->last_acked(), 2u);
  ASSERT_THAT(box->AckUpTo(3), IsOk());
  EXPECT_EQ(*box->Pending(), 0);
  // Even with an empty outbox, numbers never go back.
  box.reset();
  box = *Outbox::Open(path_);
  EXPECT_EQ(*box->Enqueue(Batch(4)), 4u);
}

TEST_F(OutboxTest, AfterPagesInOrder) {
  auto box = *Outbox::Open(path_);
  for (int i = 0; i < 10; ++i) ASSERT_THAT(box->Enqueue(Batch(i)), IsOk());
  auto page = *box->After(4, 3);
  ASSERT_EQ(page.size(), 3u);
  EXPECT_EQ(page[0].seq(), 5u);
  EXPECT_EQ(page[2].seq(), 7u);
}

TEST_F(OutboxTest, FinishedStepsAreRemembered) {
  {
    auto box = *Outbox::Open(path_);
    EXPECT_FALSE(box->IsStepDone("a1-start"));
    ASSERT_THAT(box->MarkStepDone("a1-start"), IsOk());
  }
  auto box = *Outbox::Open(path_);
  EXPECT_TRUE(box->IsStepDone("a1-start"));
  EXPECT_FALSE(box->IsStepDone("a1-load"));
}

TEST_F(OutboxTest, CommitsAreSyncedBeforeTheyReturn) {
  auto box = *Outbox::Open(path_);
  auto db = *sqlite::Database::Open(path_);
  // Another connection sees the file's journal mode; synchronous is per
  // connection, so the outbox's own is read through a fresh open + the
  // wrapper every owner uses.
  ASSERT_THAT(db->EnableWal(), IsOk());
  EXPECT_EQ(*db->QueryInt("PRAGMA synchronous"), 2) << "2 = FULL";
}

TEST_F(OutboxTest, AStepsOutcomeAndItsDoneMarkAreOneTransaction) {
  auto box = *Outbox::Open(path_);
  v1::AgentMessage result;
  result.mutable_run_result()->set_attempt_id(7);
  v1::AgentMessage update;
  update.mutable_step_update()->set_step_id("a7-load");
  ASSERT_THAT(box->EnqueueStepEnd({result, update}, "a7-load"), IsOk());
  EXPECT_TRUE(box->IsStepDone("a7-load"));
  auto pending = *box->After(0, 10);
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_TRUE(pending[0].has_run_result());
  EXPECT_EQ(pending[1].seq(), 2u);
  // A failed store leaves neither the messages nor the mark.
  auto other = *sqlite::Database::Open(path_);
  ASSERT_THAT(other->Exec("CREATE TRIGGER refuse BEFORE INSERT ON done_steps "
                          "BEGIN SELECT RAISE(ABORT, 'disk full'); END"),
              IsOk());
  EXPECT_FALSE(box->EnqueueStepEnd({result, update}, "a8-load").ok());
  EXPECT_FALSE(box->IsStepDone("a8-load"));
  EXPECT_EQ(*box->Pending(), 2);
  ASSERT_THAT(other->Exec("DROP TRIGGER refuse"), IsOk());
  EXPECT_EQ(*box->Enqueue(Batch(1)), 3u) << "numbers of a rolled-back store are reused";
}

// Steps report the samples stored for their attempt: counted with the
// batches, across reopens (an agent's next life), never what failed.
TEST_F(OutboxTest, SamplesStoredAreCountedWithTheirBatches) {
  {
    auto box = *Outbox::Open(path_);
    v1::AgentMessage batch = Batch(7);
    for (int i = 0; i < 3; ++i) batch.mutable_metric_batch()->add_samples()->set_name("x");
    ASSERT_THAT(box->Enqueue(batch), IsOk());
    ASSERT_THAT(box->Enqueue(batch), IsOk());
    EXPECT_EQ(box->SamplesStored(7), 6u);
    EXPECT_EQ(box->SamplesStored(8), 0u);
    auto other = *sqlite::Database::Open(path_);
    ASSERT_THAT(other->Exec("CREATE TRIGGER refuse BEFORE INSERT ON outbox "
                            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"),
                IsOk());
    EXPECT_FALSE(box->Enqueue(batch).ok());
    EXPECT_EQ(box->SamplesStored(7), 6u) << "a batch not stored is not counted";
    ASSERT_THAT(other->Exec("DROP TRIGGER refuse"), IsOk());
  }
  EXPECT_EQ((*Outbox::Open(path_))->SamplesStored(7), 6u);
}

TEST_F(OutboxTest, NumbersContinueAfterTheControllersCommittedSequence) {
  auto box = *Outbox::Open(path_);
  EXPECT_EQ(*box->Enqueue(Batch(1)), 1u);
  // The controller has this id's messages up to 40 (an earlier state dir).
  ASSERT_THAT(box->RaiseNextSeq(40), IsOk());
  EXPECT_EQ(*box->Enqueue(Batch(2)), 41u);
  ASSERT_THAT(box->RaiseNextSeq(10), IsOk());  // never goes back
  EXPECT_EQ(*box->Enqueue(Batch(3)), 42u);
  box.reset();
  box = *Outbox::Open(path_);
  EXPECT_EQ(*box->Enqueue(Batch(4)), 43u);
}

TEST_F(OutboxTest, ANewEpochRenumbersWhatIsPendingAfterTheCommittedSequence) {
  std::string epoch;
  {
    auto box = *Outbox::Open(path_);
    epoch = box->epoch();
    EXPECT_EQ(epoch.size(), 16u);
    for (int i = 1; i <= 3; ++i) ASSERT_THAT(box->Enqueue(Batch(i)), IsOk());
    EXPECT_EQ(*box->Rebase(100), 3);
    auto pending = *box->After(100, 10);
    ASSERT_EQ(pending.size(), 3u);
    EXPECT_EQ(pending[0].seq(), 101u);
    EXPECT_EQ(pending[0].metric_batch().attempt_id(), 1);
    EXPECT_EQ(pending[2].seq(), 103u);
    EXPECT_EQ(box->last_acked(), 100u);
    EXPECT_EQ(*box->Enqueue(Batch(4)), 104u);
  }
  auto box = *Outbox::Open(path_);
  EXPECT_EQ(box->epoch(), epoch) << "the epoch lives as long as the file";
  EXPECT_EQ(*box->Enqueue(Batch(5)), 105u);
  std::filesystem::remove(path_);
  for (const char* suffix : {"-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  EXPECT_NE((*Outbox::Open(path_))->epoch(), epoch);
}

// Everything stored is something the controller accepts (gRPC refuses a
// message over its 4 MiB limit, and a refused one would be resent forever).
TEST_F(OutboxTest, EveryStoredMessageFitsTheWire) {
  auto box = *Outbox::Open(path_);
  v1::AgentMessage update;
  v1::StepUpdate* u = update.mutable_step_update();
  u->set_step_id("a1-stop");
  u->set_attempt_id(1);
  u->set_error(std::string(3 << 20, 'e'));
  (*u->mutable_artifacts())["server.log"] =
      "first line\n" + std::string(6 << 20, 'x') + "last line";
  (*u->mutable_evidence())["mode"] = "strict";
  v1::AgentMessage big = Batch(1);
  for (int i = 0; i < 200000; ++i) {
    v1::MetricSample* s = big.mutable_metric_batch()->add_samples();
    s->set_name("iommuvm_server_cpu_utilization");
    (*s->mutable_labels())["cpu"] = std::to_string(i % 64);
    s->set_timestamp_ms(i);
  }
  ASSERT_TRUE(box->Enqueue(update).ok());
  ASSERT_THAT(box->EnqueueStepEnd({big}, "a1-load"), IsOk());
  auto stored = *box->After(0, 1000);
  ASSERT_GT(stored.size(), 2u) << "the batch is split";
  int64_t samples = 0;
  for (const auto& m : stored) {
    EXPECT_LE(m.ByteSizeLong(), kMaxMessageBytes) << m.seq();
    for (const auto& s : m.metric_batch().samples()) EXPECT_EQ(s.timestamp_ms(), samples++);
  }
  EXPECT_EQ(samples, 200000);
  EXPECT_EQ(box->SamplesStored(1), 200000u);
  const v1::StepUpdate& kept = stored[0].step_update();
  EXPECT_EQ(kept.evidence().at("mode"), "strict");
  const std::string& log = kept.artifacts().at("server.log");
  EXPECT_EQ(log.substr(0, 10), "first line");
  EXPECT_EQ(log.substr(log.size() - 9), "last line");
  EXPECT_NE(log.find("bytes left out"), std::string::npos);
}

}  // namespace
}  // namespace iommuvm::agent
