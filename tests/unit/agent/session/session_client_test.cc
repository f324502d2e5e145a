// The session client against a controller in the same process (a fake
// AgentService behind an in-process channel): what it registers with, that
// acks empty the outbox, and that a controller that never saw this outbox
// gets its pending messages numbered after what it holds.
#include "agent/session/session_client.h"

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "agent/paths.h"
#include "common/clock.h"
#include "common/file_system.h"
#include "tests/support/fake_command_runner.h"
#include "tests/support/sysroot_builder.h"

namespace iommuvm::agent {
namespace {

// Acks every data message; answers the registration with `ack`. With
// `hang_up`, ends every session right after acking its registration (a
// controller that cannot take what the agent sends next).
class FakeController final : public v1::AgentService::Service {
 public:
  explicit FakeController(v1::RegisterAck ack, bool hang_up = false)
      : ack_(std::move(ack)), hang_up_(hang_up) {}
  grpc::Status Session(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::ControllerMessage, v1::AgentMessage>* stream) override {
    v1::AgentMessage msg;
    if (!stream->Read(&msg) || !msg.has_register_()) return grpc::Status::CANCELLED;
    {
      std::lock_guard lock(mu_);
      registered_ = msg.register_();
      ++sessions_;
    }
    v1::ControllerMessage reply;
    *reply.mutable_register_ack() = ack_;
    stream->Write(reply);
    if (hang_up_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "cannot store message 1");
    while (stream->Read(&msg)) {
      if (msg.seq() == 0) continue;  // heartbeat
      {
        std::lock_guard lock(mu_);
        received_.push_back(msg);
      }
      v1::ControllerMessage ack;
      ack.mutable_ack()->set_seq(msg.seq());
      stream->Write(ack);
    }
    return grpc::Status::OK;
  }
  v1::Register registered() {
    std::lock_guard lock(mu_);
    return registered_;
  }
  std::vector<v1::AgentMessage> received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  int sessions() {
    std::lock_guard lock(mu_);
    return sessions_;
  }

 private:
  v1::RegisterAck ack_;
  bool hang_up_;
  int sessions_ = 0;
  std::mutex mu_;
  v1::Register registered_;
  std::vector<v1::AgentMessage> received_;
};

class SessionClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto box = Outbox::Open(OutboxPath(dir_.root()));
    ASSERT_TRUE(box.ok()) << box.status();
    outbox_ = std::move(*box);
    executor_ = std::make_unique<StepExecutor>(AgentDeps{&files_, &runner_, &clock_, nullptr},
                                               dir_.root(), "127.0.0.1", outbox_.get());
  }
  void TearDown() override {
    stop_ = true;
    if (client_thread_.joinable()) client_thread_.join();
    if (server_) server_->Shutdown();
  }
  // Starts `controller` in process and the session client against it.
  void Connect(FakeController* controller,
               std::function<absl::Status(absl::Duration)> step_clock = nullptr) {
    grpc::ServerBuilder builder;
    builder.RegisterService(controller);
    server_ = builder.BuildAndStart();
    SessionOptions options;
    options.clock = &clock_;
    options.controller_address = "in-process";
    options.step_clock = std::move(step_clock);
    options.connect = [this] {
      return v1::AgentService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
    };
    client_ = std::make_unique<SessionClient>(
        options,
        [] {
          v1::Register r;
          r.set_agent_id("srv");
          return r;
        },
        outbox_.get(), executor_.get());
    client_thread_ = std::thread([this] { client_->Run(&stop_); });
  }
  static v1::AgentMessage Batch(int64_t attempt) {
    v1::AgentMessage m;
    m.mutable_metric_batch()->set_attempt_id(attempt);
    return m;
  }
  bool WaitUntilAcked() {
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      if (outbox_->Pending().value_or(-1) == 0) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  testing::SysrootBuilder dir_;
  LocalFileSystem files_{"/"};
  RealClock clock_;
  testing::FakeCommandRunner runner_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<StepExecutor> executor_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<SessionClient> client_;
  std::atomic<bool> stop_{false};
  std::thread client_thread_;
};

TEST_F(SessionClientTest, RegistersWithItsOutboxAndAcksEmptyIt) {
  ASSERT_TRUE(outbox_->Enqueue(Batch(1)).ok());
  ASSERT_TRUE(outbox_->Enqueue(Batch(2)).ok());
  FakeController controller(v1::RegisterAck{});
  Connect(&controller);
  ASSERT_TRUE(WaitUntilAcked());
  EXPECT_EQ(controller.registered().agent_id(), "srv");
  EXPECT_EQ(controller.registered().outbox_epoch(), outbox_->epoch());
  std::vector<v1::AgentMessage> got = controller.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].seq(), 1u);
  EXPECT_EQ(got[1].metric_batch().attempt_id(), 2);
  EXPECT_EQ(outbox_->last_acked(), 2u);
}

// A controller holding numbers up to 50 from another outbox of this agent
// id (a wiped state directory): pending messages go out as 51 and 52.
TEST_F(SessionClientTest, AnOutboxNewToTheControllerIsNumberedAfterWhatItHolds) {
  ASSERT_TRUE(outbox_->Enqueue(Batch(1)).ok());
  ASSERT_TRUE(outbox_->Enqueue(Batch(2)).ok());
  v1::RegisterAck ack;
  ack.set_committed_seq(50);
  ack.set_new_outbox(true);
  FakeController controller(ack);
  Connect(&controller);
  ASSERT_TRUE(WaitUntilAcked());
  std::vector<v1::AgentMessage> got = controller.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].seq(), 51u);
  EXPECT_EQ(got[1].seq(), 52u);
  EXPECT_EQ(got[1].metric_batch().attempt_id(), 2);
}

// An agent in a guest sets its clock by the controller's at registration:
// the controller reads 5 s ahead, so the clock is stepped by about 5 s.
TEST_F(SessionClientTest, SetsItsClockByTheControllersWhenAsked) {
  v1::RegisterAck ack;
  ack.set_controller_time_ms(absl::ToUnixMillis(absl::Now() + absl::Seconds(5)));
  FakeController controller(ack);
  std::mutex mu;
  std::vector<absl::Duration> steps;
  Connect(&controller, [&](absl::Duration by) {
    std::lock_guard lock(mu);
    steps.push_back(by);
    return absl::OkStatus();
  });
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    {
      std::lock_guard lock(mu);
      if (!steps.empty()) break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  std::lock_guard lock(mu);
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_GT(steps[0], absl::Milliseconds(4500));
  EXPECT_LT(steps[0], absl::Milliseconds(5500));
}

// A session that ends right after registering does not reset the backoff:
// 250 ms, 500 ms, 1 s... rather than a reconnect every 250 ms (a storm of
// 1,975 reconnects in 40 s once, on a message the controller refused).
TEST_F(SessionClientTest, ASessionThatDiesAtOnceBacksOffAsIfItNeverConnected) {
  ASSERT_TRUE(outbox_->Enqueue(Batch(1)).ok());
  FakeController controller(v1::RegisterAck{}, /*hang_up=*/true);
  Connect(&controller);
  absl::SleepFor(absl::Milliseconds(2000));
  // With doubling from 250 ms (jitter 0.8-1.2): sessions at about 0, 0.25,
  // 0.75 and 1.75 s. Reset every time it would be 8.
  EXPECT_GE(controller.sessions(), 3);
  EXPECT_LE(controller.sessions(), 5);
}

TEST(ClockOffsetTest, TheReferenceIsReadAtTheRoundTripsMidpoint) {
  absl::Time sent = absl::FromUnixMillis(100'000), received = absl::FromUnixMillis(100'040);
  EXPECT_EQ(ClockOffset(sent, received, absl::FromUnixMillis(100'400)), absl::Milliseconds(380));
  EXPECT_EQ(ClockOffset(sent, received, absl::FromUnixMillis(99'000)), absl::Milliseconds(-1020));
}

}  // namespace
}  // namespace iommuvm::agent
