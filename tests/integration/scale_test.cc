// The controller at scale, as processes: an experiment of 100k runs shown
// in full by `status`, `results`, `report` and `submit --wait` (one reply
// of its runs passed gRPC's 4 MB limit), and agent sessions kept within
// what the open-files limit allows, so the CLI always gets in.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/support/process_harness.h"

namespace iommuvm::testing {
namespace {

size_t Lines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

// Lines after the header of a CSV whose first column is the run, not run
// k on line k: pages fetched two at a time and put out of order.
size_t OutOfOrder(const std::string& csv) {
  size_t line = 0, out_of_order = 0;
  for (size_t at = csv.find('\n'); at != std::string::npos && at + 1 < csv.size();
       at = csv.find('\n', at + 1)) {
    if (!absl::StartsWith(csv.substr(at + 1, 12), absl::StrCat(line++, ","))) ++out_of_order;
  }
  return out_of_order;
}

// 100k runs that can never start: no agent has the label they need
// (repetitions stop at 10000; a user axis makes the rest).
constexpr char kBigSpec[] = R"(name: big
matrix:
  workload: [get]
  clients: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
repetitions: 10000
nodes:
  selector: {bench: no-such-node}
workloads:
  get:
    app: redis
    generator: {tests: [get], requests: 5000}
)";

TEST(ScaleTest, AHundredThousandRunExperimentIsShownInFull) {
  Harness h;
  Daemon controller = h.StartController({"--max_runs_per_experiment", "200000"});
  ASSERT_TRUE(controller.WaitForLog("listening on", absl::Seconds(10))) << controller.Log();
  std::string spec = h.WriteFile("big.yaml", kBigSpec);
  CommandResult submit = h.Cli({"submit", spec});
  ASSERT_EQ(submit.exit_code, 0) << submit.err << controller.Log();

  CommandResult status = h.Cli({"status", "1", "--format", "csv"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(Lines(status.out), 100001u);  // the header and every run
  EXPECT_NE(status.out.find("\n99999,"), std::string::npos);
  EXPECT_EQ(OutOfOrder(status.out), 0u);
  CommandResult results = h.Cli({"results", "1", "--format", "csv"});
  ASSERT_EQ(results.exit_code, 0) << results.err;
  EXPECT_EQ(Lines(results.out), 100001u);
  EXPECT_EQ(OutOfOrder(results.out), 0u);  // its 100 pages, fetched two at a time
  CommandResult report = h.Cli({"report", "1", "--out", h.dir() / "report.html"});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  CommandResult list = h.Cli({"status", "--format", "csv"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find(",big,QUEUED,100000,0,0,0,"), std::string::npos) << list.out;

  // Following a second one shows its progress (it would wait forever).
  CommandResult wait = h.Cli({"submit", spec, "--wait"}, absl::Seconds(5));
  EXPECT_TRUE(wait.timed_out) << wait.out << wait.err;
  EXPECT_NE(wait.out.find("0/100000 runs (0 ok, 0 failed) | waiting: no eligible pair"),
            std::string::npos)
      << wait.out << wait.err;
}

TEST(ScaleTest, TheControllerRaisesItsOpenFilesLimitAndSaysHowManyAgentsFit) {
  struct rlimit files;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &files), 0);
  if (files.rlim_max <= 1024)
    GTEST_SKIP() << "the hard open-files limit is only " << files.rlim_max;
  // Started with the common soft limit, as from a login shell.
  struct rlimit low = files;
  low.rlim_cur = 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  Harness h;
  Daemon controller = h.StartController();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &files), 0);
  ASSERT_TRUE(controller.WaitForLog("agent sessions", absl::Seconds(10))) << controller.Log();
  EXPECT_NE(controller.Log().find(
                absl::StrCat("open files: limit ", files.rlim_max, " (raised from 1024)")),
            std::string::npos)
      << controller.Log();
}

TEST(ScaleTest, AnAgentBeyondCapacityIsRefusedWithTheReasonAndGetsInWhenThereIsRoom) {
  Harness h;
  Daemon controller = h.StartController({"--max_agents", "2"});
  ASSERT_TRUE(controller.WaitForLog("listening on", absl::Seconds(10))) << controller.Log();
  Daemon a = h.StartAgent("agent-a", "server");
  Daemon b = h.StartAgent("agent-b", "client");
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM nodes", 2, absl::Seconds(20)))
      << controller.Log();
  Daemon c = h.StartAgent("agent-c", "client");
  ASSERT_TRUE(c.WaitForLog("limit of 2 agent sessions", absl::Seconds(20))) << c.Log();
  EXPECT_NE(controller.Log().find("refused agent agent-c"), std::string::npos) << controller.Log();
  // The CLI gets in and sees the two.
  CommandResult agents = h.Cli({"agents", "--format", "csv"});
  ASSERT_EQ(agents.exit_code, 0) << agents.err;
  EXPECT_EQ(Lines(agents.out), 3u) << agents.out;
  // One leaves: the refused agent takes its place at its next try.
  a.process.reset();
  EXPECT_TRUE(
      h.WaitForCount("SELECT COUNT(*) FROM nodes WHERE agent_id = 'agent-c'", 1, absl::Seconds(30)))
      << c.Log();
}

}  // namespace
}  // namespace iommuvm::testing
