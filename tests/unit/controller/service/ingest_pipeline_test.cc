// IngestPipeline on a real scheduler and store: a message that cannot be
// stored closes the session it came on, never the agent's newer one, and
// the pipeline forgets a failed session once it has ended.
#include "controller/service/ingest_pipeline.h"

#include "tests/unit/controller/scheduler/scheduler_fixture.h"

namespace iommuvm::scheduler {
namespace {

// A session's outgoing side that records whether it was closed.
class RecordingSink final : public service::SessionSink {
 public:
  void Write(const v1::ControllerMessage&) override {}
  void Close(const std::string& reason) override {
    std::lock_guard lock(mu);
    closed = reason;
  }
  std::string Closed() {
    std::lock_guard lock(mu);
    return closed;
  }
  std::mutex mu;
  std::string closed;
};

// A metric batch without a sequence number: the scheduler refuses to store it.
std::unique_ptr<v1::AgentMessage> Unstorable() {
  auto m = std::make_unique<v1::AgentMessage>();
  m->mutable_metric_batch()->set_attempt_id(1);
  m->mutable_metric_batch()->add_samples()->set_name("x");
  return m;
}

bool WaitFor(const std::function<bool()>& done) {
  for (int i = 0; i < 500 && !done(); ++i) absl::SleepFor(absl::Milliseconds(10));
  return done();
}

using IngestPipelineTest = SchedulerTest;

TEST_F(IngestPipelineTest, AFailedMessageClosesItsOwnSessionNotTheAgentsNewerOne) {
  service::SessionRegistry registry;
  service::IngestPipeline pipeline(scheduler_.get(), &registry, &registry);
  RecordingSink a, b_newer;
  // Agent a's message fails on its session: that session is closed.
  uint64_t a_session = pipeline.NewSession();
  ASSERT_EQ(registry.Attach("a", &a, a_session), service::SessionRegistry::Attached::kYes);
  pipeline.Submit(a_session, "a", Unstorable());
  ASSERT_TRUE(WaitFor([&] { return !a.Closed().empty(); }));
  EXPECT_THAT(a.Closed(), HasSubstr("cannot store message"));
  // Agent b has reconnected when a message of its old session fails: its
  // newer session stays open.
  uint64_t b_old = pipeline.NewSession(), b_new = pipeline.NewSession();
  ASSERT_EQ(registry.Attach("b", &b_newer, b_new), service::SessionRegistry::Attached::kYes);
  pipeline.Submit(b_old, "b", Unstorable());
  ASSERT_TRUE(WaitFor([&] { return pipeline.failed_sessions() == 2; }));
  EXPECT_EQ(b_newer.Closed(), "");
  // Ended sessions are forgotten.
  pipeline.EndSession(a_session);
  pipeline.EndSession(b_old);
  EXPECT_TRUE(WaitFor([&] { return pipeline.failed_sessions() == 0; }))
      << pipeline.failed_sessions();
}

}  // namespace
}  // namespace iommuvm::scheduler
