// The step executor with a fake command runner and a real outbox in a
// scratch directory: what a load step stores, that a finished step id is
// never run twice, and that a tool's outage is reported as transient.
#include "agent/step_executor.h"

#include <gtest/gtest.h>

#include "agent/paths.h"
#include "agent/session/outbox.h"
#include "common/clock.h"
#include "common/file_system.h"
#include "tests/support/fake_command_runner.h"
#include "tests/support/fixtures.h"
#include "tests/support/forwarding_file_system.h"
#include "tests/support/sysroot_builder.h"

namespace iommuvm::agent {
namespace {

class StepExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runner_.installed = {"redis-benchmark"};
    runner_.Answer("redis-benchmark --version", "redis-benchmark 7.0.15\n");
    auto box = Outbox::Open(OutboxPath(dir_.root()));
    ASSERT_TRUE(box.ok()) << box.status();
    outbox_ = std::move(*box);
    // The fake tools move no bytes, so the data address is one no
    // interface holds: the data-path check cannot apply (see
    // ALoadWhoseBytesMissedTheDataInterfaceFails).
    executor_ = std::make_unique<StepExecutor>(AgentDeps{&files_, &runner_, &clock_, nullptr},
                                               dir_.root(), kNobodysAddress, outbox_.get());
  }
  static constexpr char kNobodysAddress[] = "192.0.2.1";  // TEST-NET-1
  static v1::Step Load(const std::string& step_id) {
    v1::Step s;
    s.set_step_id(step_id);
    s.set_attempt_id(3);
    s.set_timeout_ms(10000);
    s.add_telemetry_collectors("memory");
    v1::RunLoad* l = s.mutable_run_load();
    l->set_tool("redis-benchmark");
    l->set_target_host("127.0.0.1");
    l->set_target_port(6379);
    l->add_tests("set");
    l->add_tests("get");
    l->set_requests(20000);
    return s;
  }
  // Every stored message, in order.
  std::vector<v1::AgentMessage> Stored() { return *outbox_->After(0, 1000); }
  // Runs the load step a3-load; the update it stored last.
  v1::StepUpdate RunLoad() {
    executor_->Submit(Load("a3-load"));
    executor_->WaitIdle();
    std::vector<v1::AgentMessage> stored = Stored();
    if (stored.empty()) {
      ADD_FAILURE() << "the step stored nothing";
      return {};
    }
    return stored.back().step_update();
  }
  // The executor on other files (the test resets executor_ before they go).
  void UseFiles(FileSystem* files) {
    executor_.reset();
    executor_ = std::make_unique<StepExecutor>(AgentDeps{files, &runner_, &clock_, nullptr},
                                               dir_.root(), kNobodysAddress, outbox_.get());
  }

  testing::SysrootBuilder dir_;  // the agent's state directory
  LocalFileSystem files_{"/"};
  RealClock clock_;
  testing::FakeCommandRunner runner_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<StepExecutor> executor_;
};

TEST_F(StepExecutorTest, ALoadWhoseBytesMissedTheDataInterfaceFails) {
  // On loopback, the data interface is lo; the fake redis-benchmark's
  // 40,000 requests (at least 8 bytes each) never crossed it: lo's counters
  // (a sysroot's, so other tests' traffic cannot move them) stand still.
  testing::SysrootBuilder sysroot;
  sysroot.File("/proc/net/dev",
               "Inter-|   Receive |  Transmit\n face |bytes    packets errs drop fifo frame "
               "compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
               "    lo:  1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0\n");
  LocalFileSystem files(sysroot.root());
  executor_.reset();
  executor_ = std::make_unique<StepExecutor>(AgentDeps{&files, &runner_, &clock_, nullptr},
                                             dir_.root(), "127.0.0.1", outbox_.get());
  CommandResult ran;
  ran.exit_code = 0;
  ran.out = testing::Fixture("redis_benchmark/plain_set_get.txt");
  runner_.results["redis-benchmark"] = ran;
  executor_->Submit(Load("a3-load"));
  executor_->WaitIdle();
  std::vector<v1::AgentMessage> stored = Stored();
  ASSERT_FALSE(stored.empty());
  for (const auto& m : stored) EXPECT_FALSE(m.has_run_result()) << "a result was kept";
  const v1::StepUpdate& done = stored.back().step_update();
  EXPECT_EQ(done.phase(), v1::StepUpdate::PHASE_FAILED);
  EXPECT_FALSE(done.transient());
  EXPECT_NE(done.error().find("of 312.5 KiB crossed lo"), std::string::npos) << done.error();
  EXPECT_EQ(done.evidence().at("data_path"), "0 B on lo for 312.5 KiB of payload (0%)");
  executor_.reset();  // before `files` goes
}

TEST_F(StepExecutorTest, ALoadStoresItsResultAndItsOutcomeAndIsNeverRunTwice) {
  CommandResult ran;
  ran.exit_code = 0;
  ran.out = testing::Fixture("redis_benchmark/plain_set_get.txt");
  runner_.results["redis-benchmark"] = ran;
  executor_->Submit(Load("a3-load"));
  executor_->WaitIdle();
  std::vector<v1::AgentMessage> stored = Stored();
  ASSERT_GE(stored.size(), 2u);
  const v1::AgentMessage& result = stored[stored.size() - 2];
  ASSERT_TRUE(result.has_run_result()) << result.DebugString();
  EXPECT_EQ(result.run_result().tool(), "redis-benchmark");
  EXPECT_EQ(result.run_result().operations_size(), 2);
  EXPECT_LE(result.run_result().load_started_ms(), result.run_result().load_ended_ms());
  const v1::StepUpdate& done = stored.back().step_update();
  EXPECT_EQ(done.step_id(), "a3-load");
  EXPECT_EQ(done.phase(), v1::StepUpdate::PHASE_SUCCEEDED);
  EXPECT_TRUE(outbox_->IsStepDone("a3-load"));
  EXPECT_EQ(done.evidence().at("data_path"), "not checked: no interface counters for 192.0.2.1");
  size_t runs = runner_.ran.size();
  executor_->Submit(Load("a3-load"));  // re-sent after a reconnect
  executor_->WaitIdle();
  EXPECT_EQ(runner_.ran.size(), runs);
  EXPECT_EQ(Stored().size(), stored.size());
}

TEST_F(StepExecutorTest, AGeneratorThatLostItsServerFailsTransient) {
  CommandResult refused;
  refused.exit_code = 1;
  refused.err = "Could not connect to Redis at 127.0.0.1:6379: Connection refused\n";
  runner_.results["redis-benchmark"] = refused;
  v1::StepUpdate done = RunLoad();
  EXPECT_EQ(done.phase(), v1::StepUpdate::PHASE_FAILED);
  EXPECT_TRUE(done.transient());
  EXPECT_NE(done.error().find("Connection refused"), std::string::npos) << done.error();
  EXPECT_TRUE(outbox_->IsStepDone("a3-load"));
}

// The node's disk is full when a load step makes its run directory: the
// step fails transient (retried within `retries`, like an outage), not as
// a fault of the run's. The update itself waits in the outbox for space.
TEST_F(StepExecutorTest, AFullDiskFailsTheStepTransient) {
  // Every run directory is made on a full disk: the error is what writing
  // /dev/full returns (ENOSPC).
  class FullRunsDisk final : public testing::ForwardingFileSystem {
   public:
    FullRunsDisk() : ForwardingFileSystem("/") {}
    absl::Status MakeDirs(const std::string& path) override {
      if (path.find("/runs/") == std::string::npos) return fs_.MakeDirs(path);
      return fs_.WriteFile("/dev/full", "x");
    }
  } full;
  UseFiles(&full);
  runner_.results["redis-benchmark"] = CommandResult{};
  v1::StepUpdate done = RunLoad();
  EXPECT_EQ(done.phase(), v1::StepUpdate::PHASE_FAILED);
  EXPECT_TRUE(done.transient()) << done.error();
  EXPECT_NE(done.error().find("No space left on device"), std::string::npos) << done.error();
  executor_.reset();  // before `full` goes
}

}  // namespace
}  // namespace iommuvm::agent
