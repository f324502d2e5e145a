// An agent that resends messages the controller already committed (as it
// does after a reconnect) must not create duplicate rows. Drives a real
// controller over gRPC, speaking the agent protocol by hand.
#include <arpa/inet.h>
#include <grpcpp/create_channel.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <fstream>

#include "absl/time/clock.h"
#include "controller/controller.h"
#include "iommuvm/v1/agent.grpc.pb.h"
#include "tests/support/process_harness.h"

namespace iommuvm::testing {
namespace {

class FakeAgent {
 public:
  FakeAgent(const std::string& address, const std::string& id) {
    stub_ = v1::AgentService::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    stream_ = stub_->Session(&ctx_);
    v1::AgentMessage hello;
    hello.mutable_register_()->set_agent_id(id);
    hello.mutable_register_()->add_roles(v1::ROLE_SERVER);
    hello.mutable_register_()->add_roles(v1::ROLE_CLIENT);
    for (const char* tool : {"redis-server", "redis-benchmark"}) {
      (*hello.mutable_register_()->mutable_software_versions())[tool] = "7.0.15";
    }
    v1::ControllerMessage ack;
    registered_ = stream_->Write(hello) && stream_->Read(&ack) && ack.has_register_ack();
    if (!registered_) refusal_ = stream_->Finish().error_message();
  }
  bool registered() const { return registered_; }
  // Why the controller closed the session instead of acknowledging it.
  const std::string& refusal() const { return refusal_; }
  ~FakeAgent() {
    if (!registered_) return;
    stream_->WritesDone();
    ctx_.TryCancel();
    stream_->Finish();
  }
  // Reads until a step arrives (acks are collected meanwhile).
  v1::Step NextStep() {
    if (!steps_.empty()) {
      v1::Step s = steps_.front();
      steps_.erase(steps_.begin());
      return s;
    }
    v1::ControllerMessage m;
    while (stream_->Read(&m)) {
      if (m.has_ack()) acks.push_back(m.ack().seq());
      if (m.has_assign()) return m.assign().step();
    }
    ADD_FAILURE() << "stream ended";
    return {};
  }
  // Sends `msg` with `seq` and waits for its ack.
  void SendAndAwaitAck(v1::AgentMessage msg, uint64_t seq) {
    msg.set_seq(seq);
    ASSERT_TRUE(stream_->Write(msg));
    v1::ControllerMessage m;
    while (stream_->Read(&m)) {
      if (m.has_assign()) steps_.push_back(m.assign().step());
      if (m.has_ack()) {
        acks.push_back(m.ack().seq());
        if (m.ack().seq() == seq) {
          last_rejection = m.ack().rejected();
          return;
        }
      }
    }
    ADD_FAILURE() << "no ack for " << seq;
  }
  std::vector<uint64_t> acks;
  std::string last_rejection;  // of the message last awaited

 private:
  bool registered_ = false;
  std::string refusal_;
  std::vector<v1::Step> steps_;  // steps that arrived while awaiting acks
  std::unique_ptr<v1::AgentService::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::ControllerMessage>> stream_;
};

// A whole HTTP/1.0 response body from 127.0.0.1:port.
std::string HttpGet(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
    if (::send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size())) {
      char buf[8192];
      for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, n);
    }
  }
  ::close(fd);
  return out;
}

// Submits QuickSpec(1); the experiment id, 0 when refused.
int64_t SubmitQuickSpec(v1::ControllerService::Stub* stub) {
  grpc::ClientContext ctx;
  v1::SubmitExperimentRequest req;
  req.set_spec_yaml(QuickSpec(1));
  v1::SubmitExperimentResponse resp;
  if (!stub->SubmitExperiment(&ctx, req, &resp).ok()) return 0;
  return resp.experiment_id();
}

v1::AgentMessage Update(const v1::Step& step, const std::string& host = "", uint32_t port = 0) {
  v1::AgentMessage m;
  auto* u = m.mutable_step_update();
  u->set_step_id(step.step_id());
  u->set_attempt_id(step.attempt_id());
  u->set_phase(v1::StepUpdate::PHASE_SUCCEEDED);
  u->set_endpoint_host(host);
  u->set_endpoint_port(port);
  u->set_samples_sent(step.has_run_load() ? 3 : 0);
  // A probe's typed report, as a real agent's VerifyMode sends it.
  if (step.has_verify_mode()) {
    u->mutable_probe()->set_detected("off");
    u->mutable_probe()->set_boot_id("boot-1");
  }
  return m;
}

TEST(DuplicateDeliveryTest, ResentMessagesAreAckedButStoredOnce) {
  Harness h;
  ControllerConfig config;
  config.listen_address = "127.0.0.1:0";
  config.db_path = h.db_path();
  config.metrics_address = "127.0.0.1:0";
  auto controller = Controller::Start(config);
  ASSERT_TRUE(controller.ok()) << controller.status();
  std::string address = "127.0.0.1:" + std::to_string((*controller)->port());

  FakeAgent agent(address, "dup-agent");
  ASSERT_TRUE(agent.registered()) << agent.refusal();
  auto stub = v1::ControllerService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  ASSERT_GT(SubmitQuickSpec(stub.get()), 0);

  v1::Step verify = agent.NextStep();  // the probe comes first
  ASSERT_TRUE(verify.has_verify_mode());
  agent.SendAndAwaitAck(Update(verify), 1);
  v1::Step start = agent.NextStep();
  ASSERT_TRUE(start.has_start_server());
  agent.SendAndAwaitAck(Update(start, "127.0.0.1", 1234), 2);
  agent.SendAndAwaitAck(Update(start, "127.0.0.1", 1234), 2);  // resent
  v1::Step load = agent.NextStep();
  ASSERT_TRUE(load.has_run_load());
  EXPECT_EQ(load.run_load().target_port(), 1234u);

  // The server's own rate over the measured load, which the result reports.
  int64_t now = absl::ToUnixMillis(absl::Now());
  v1::AgentMessage batch;
  batch.mutable_metric_batch()->set_attempt_id(load.attempt_id());
  for (int i = 0; i < 3; ++i) {
    auto* s = batch.mutable_metric_batch()->add_samples();
    s->set_name("server_requests_per_second");
    s->set_timestamp_ms(now - 1000 + 500 * i);
    s->set_value(1000 + i);
  }
  v1::AgentMessage result;
  result.mutable_run_result()->set_step_id(load.step_id());
  result.mutable_run_result()->set_attempt_id(load.attempt_id());
  result.mutable_run_result()->add_operations()->set_throughput_ops(1000);
  result.mutable_run_result()->set_load_started_ms(now - 1500);
  result.mutable_run_result()->set_load_ended_ms(now);
  for (int round = 0; round < 3; ++round) {  // the whole sequence, three times
    agent.SendAndAwaitAck(batch, 3);
    agent.SendAndAwaitAck(result, 4);
  }
  agent.SendAndAwaitAck(Update(load), 5);
  v1::Step stop = agent.NextStep();
  ASSERT_TRUE(stop.has_stop_server());
  agent.SendAndAwaitAck(Update(stop), 6);
  agent.SendAndAwaitAck(Update(stop), 6);

  // /metrics counts what happened (the loop refreshes gauges each pass).
  std::string metrics;
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline &&
         metrics.find("iommuvm_runs{state=\"SUCCEEDED\"} 1") == std::string::npos) {
    metrics = HttpGet((*controller)->metrics_port(), "/metrics");
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_NE(metrics.find("iommuvm_ingest_duplicates_total 6"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("iommuvm_ingest_messages_total{kind=\"metric_batch\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("iommuvm_metric_samples_total 3"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("iommuvm_agents_connected 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("iommuvm_runs{state=\"SUCCEEDED\"} 1"), std::string::npos) << metrics;
  (*controller)->Shutdown();
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM metric_samples"), 3);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM run_results"), 1);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM ingested WHERE agent_id = 'dup-agent'"), 6);
  EXPECT_EQ(h.Count("SELECT samples_reported FROM attempts"), 3);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM attempts WHERE state = 'SUCCEEDED'"), 1);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 1);
}

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.listen_address = h_.address();  // where the harness's CLI calls go
    config_.db_path = h_.db_path();
    config_.metrics_address = "";
    auto c = Controller::Start(config_);
    ASSERT_TRUE(c.ok()) << c.status();
    controller_ = std::move(*c);
    address_ = h_.address();
  }
  Harness h_;
  ControllerConfig config_;
  std::unique_ptr<Controller> controller_;
  std::string address_;
};

// The older session wins until it is gone: a second process with the same
// id (or an impostor) cannot evict a live agent, and the two never evict
// each other in a loop.
TEST_F(ControllerTest, ASecondLiveSessionForAnAgentIdIsRefused) {
  auto first = std::make_unique<FakeAgent>(address_, "node-1");
  ASSERT_TRUE(first->registered());
  FakeAgent second(address_, "node-1");
  EXPECT_FALSE(second.registered());
  EXPECT_NE(second.refusal().find("agent id 'node-1' already has a live session"),
            std::string::npos)
      << second.refusal();
  first.reset();  // gone: the id is free again
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  bool registered = false;
  while (!registered && absl::Now() < deadline) {
    registered = FakeAgent(address_, "node-1").registered();
    if (!registered) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(registered);
}

TEST_F(ControllerTest, OneControllerPerPortAndPerDatabase) {
  ControllerConfig same_port = config_;
  same_port.listen_address = address_;
  same_port.db_path = h_.dir() / "other.db";
  auto second = Controller::Start(same_port);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("cannot listen on " + address_), std::string::npos)
      << second.status();
  ControllerConfig same_db = config_;
  same_db.listen_address = "127.0.0.1:0";
  auto third = Controller::Start(same_db);  // another port, the same database
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().message(),
            "database " + h_.db_path() +
                " is in use by another iommuvm-controller; stop that one, or give this one "
                "its own --db");
  controller_.reset();
  EXPECT_TRUE(Controller::Start(config_).ok()) << "the lock goes with its controller";
}

int ThreadsOfThisProcess() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

// 200 open watches cost no thread each: one hub serves them all, each gets
// its snapshot, and they all end with their experiment.
TEST_F(ControllerTest, ManyWatchesShareOneThread) {
  auto stub = v1::ControllerService::NewStub(
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  int64_t experiment = SubmitQuickSpec(stub.get());
  ASSERT_GT(experiment, 0);
  int before = ThreadsOfThisProcess();
  constexpr int kWatches = 200;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::Experiment>>> readers;
  for (int i = 0; i < kWatches; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    v1::WatchExperimentRequest w;
    w.set_experiment_id(experiment);
    readers.push_back(stub->WatchExperiment(contexts.back().get(), w));
  }
  for (auto& r : readers) {
    v1::Experiment snapshot;
    ASSERT_TRUE(r->Read(&snapshot));
    EXPECT_EQ(snapshot.state(), v1::EXPERIMENT_STATE_QUEUED);
  }
  int during = ThreadsOfThisProcess();
  EXPECT_LT(during - before, 20) << before << " threads before, " << during << " with "
                                 << kWatches << " watches";
  grpc::ClientContext cancel_ctx;
  v1::CancelExperimentRequest cancel;
  cancel.set_experiment_id(experiment);
  v1::Experiment cancelled;
  ASSERT_TRUE(stub->CancelExperiment(&cancel_ctx, cancel, &cancelled).ok());
  for (auto& r : readers) {
    v1::Experiment snapshot;
    v1::ExperimentState last = v1::EXPERIMENT_STATE_UNSPECIFIED;
    while (r->Read(&snapshot)) last = snapshot.state();
    EXPECT_EQ(last, v1::EXPERIMENT_STATE_CANCELLED);
    EXPECT_TRUE(r->Finish().ok());
  }
}

// A message that can never be applied is acked with the reason, recorded,
// and shown by `iommuvm agents`, instead of blocking its agent forever.
TEST_F(ControllerTest, AMessageThatCanNeverBeAppliedIsAckedAsRejectedAndShown) {
  FakeAgent agent(address_, "dual");
  ASSERT_TRUE(agent.registered());
  auto stub = v1::ControllerService::NewStub(
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  ASSERT_GT(SubmitQuickSpec(stub.get()), 0);
  v1::Step verify = agent.NextStep();
  FakeAgent mallory(address_, "mallory");
  ASSERT_TRUE(mallory.registered());
  v1::AgentMessage forged = Update(verify);
  forged.mutable_step_update()->set_phase(v1::StepUpdate::PHASE_FAILED);
  mallory.SendAndAwaitAck(forged, 1);
  EXPECT_EQ(mallory.last_rejection,
            "agent mallory is not a node of attempt 1 (server dual, client dual)");
  mallory.SendAndAwaitAck(forged, 2);  // and again, with the next number
  // The session lives on: the next message goes through.
  v1::AgentMessage batch;
  batch.mutable_metric_batch()->set_attempt_id(12345);
  mallory.SendAndAwaitAck(batch, 3);
  EXPECT_EQ(mallory.last_rejection, "");
  CommandResult agents = h_.Cli({"agents", "--format", "csv"});
  ASSERT_EQ(agents.exit_code, 0) << agents.err;
  EXPECT_NE(agents.out.find(",2,\"seq 2: agent mallory is not a node of attempt 1"),
            std::string::npos)
      << agents.out;
  // The attempt is untouched and its own node carries on.
  agent.SendAndAwaitAck(Update(verify), 1);
  EXPECT_TRUE(agent.NextStep().has_start_server());
}

}  // namespace
}  // namespace iommuvm::testing
