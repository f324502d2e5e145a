// Cutting the data-plane link between real agents in network namespaces
// (tests/support/topology.h) while a real experiment runs. Either way the
// outage is caught, the attempt fails as transient and is retried, and only
// the retry that measured a healthy link counts as the run's result.
#include <gtest/gtest.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/support/process_harness.h"
#include "tests/support/topology.h"

namespace iommuvm::testing {
namespace {

constexpr char kSpec[] = R"(name: link-cut
matrix:
  iommu: [current]
  workload: [web]
repetitions: 1
retries: 2
workloads:
  web:
    app: nginx
    generator: {tool: wrk, clients: 8, threads: 2, duration: 6s, file_size: 4KiB}
timeouts: {prepare: 30s, run: 30s, collect: 30s}
telemetry: {interval: 500ms}
)";

class LinkCutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(net_.status().ok() || absl::IsFailedPrecondition(net_.status())) << net_.status();
    if (!net_.status().ok()) GTEST_SKIP() << net_.status();
    controller_ = h_.StartController();
    ASSERT_TRUE(controller_.WaitForLog("listening on", absl::Seconds(10))) << controller_.Log();
    sut_ = h_.StartAgent("sut", "server", {}, {"--data_address", net_.sut_address()},
                         net_.In(net_.sut_ns()));
    client_ = h_.StartAgent("client", "client", {}, {"--data_address", net_.client_address()},
                            net_.In(net_.client_ns()));
    ASSERT_TRUE(h_.WaitForCount("SELECT COUNT(*) FROM nodes", 2, absl::Seconds(15)))
        << sut_.Log() << client_.Log();
    ASSERT_EQ(h_.Cli({"submit", h_.WriteFile("cut.yaml", kSpec)}).exit_code, 0);
    ASSERT_TRUE(h_.WaitForCount("SELECT COUNT(*) FROM attempts WHERE number = 1 AND "
                                "state = 'RUNNING'",
                                1, absl::Seconds(30)))
        << controller_.Log();
    absl::SleepFor(absl::Milliseconds(500));
    ASSERT_TRUE(net_.SetDataLink(false).ok());
  }

  bool FirstAttemptFailed() {
    return h_.WaitForCount("SELECT COUNT(*) FROM attempts WHERE number = 1 AND state = 'FAILED'",
                           1, absl::Seconds(40));
  }

  // The run succeeded on a retry, and only that attempt counts as a result.
  void ExpectTheRetryMeasured() {
    ASSERT_TRUE(h_.WaitForCount("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'", 1,
                                absl::Seconds(60)))
        << controller_.Log() << client_.Log();
    EXPECT_GE(h_.Count("SELECT COUNT(*) FROM attempts"), 2);
    EXPECT_EQ(h_.Count("SELECT COUNT(*) FROM results"), 1);
    EXPECT_EQ(h_.Count("SELECT COUNT(*) FROM results WHERE attempt > 1 AND errors = 0 AND "
                       "throughput_ops > 1000"),
              1);
  }

  Topology net_{absl::StrCat("ivf", ::getpid() % 10000)};
  Harness h_{net_.controller_host()};
  Daemon controller_, sut_, client_;
};

// A 2.5 s outage: wrk's connections time out, which wrk counts.
TEST_F(LinkCutTest, ShortOutageShowsAsSocketTimeoutsAndIsRetried) {
  absl::SleepFor(absl::Milliseconds(2500));
  ASSERT_TRUE(net_.SetDataLink(true).ok());
  ASSERT_TRUE(FirstAttemptFailed()) << controller_.Log();
  EXPECT_EQ(h_.Count("SELECT COUNT(*) FROM attempts WHERE number = 1 AND error LIKE "
                     "'client: wrk saw % errors (timeout %)%'"),
            1)
      << controller_.Log();
  ExpectTheRetryMeasured();
}

// The link stays down to the end of the run: wrk reports a low rate and
// not a single error (measured: 3.2k req/s for ~25k), so the server's own
// request rate is what shows the outage.
TEST_F(LinkCutTest, OutageToTheEndIsCaughtByTheServersOwnRate) {
  bool failed = FirstAttemptFailed();
  ASSERT_TRUE(net_.SetDataLink(true).ok());
  ASSERT_TRUE(failed) << controller_.Log();
  EXPECT_EQ(h_.Count("SELECT COUNT(*) FROM attempts WHERE number = 1 AND error LIKE "
                     "'sut: the server served almost nothing in %stalled%'"),
            1)
      << controller_.Log();
  ExpectTheRetryMeasured();
}

}  // namespace
}  // namespace iommuvm::testing
