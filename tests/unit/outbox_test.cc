#include "agent/session/outbox.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

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

}  // namespace
}  // namespace iommuvm::agent
