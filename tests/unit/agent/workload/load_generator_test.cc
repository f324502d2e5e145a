// What every load generator shares: errors by kind, zero throughput fails.
#include "agent/workload/load_generator.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "agent/workload/memcaslap.h"
#include "agent/workload/memcaslap_parser.h"
#include "agent/workload/memtier.h"
#include "agent/workload/memtier_parser.h"
#include "agent/workload/nginx_server.h"
#include "agent/workload/redis_benchmark.h"
#include "agent/workload/server_application.h"
#include "agent/workload/wrk.h"
#include "agent/workload/wrk_parser.h"
#include "common/cpu_list.h"
#include "tests/support/fake_command_runner.h"
#include "tests/support/fixtures.h"
#include "tests/support/status_matchers.h"
#include "tests/support/sysroot_builder.h"

namespace iommuvm::agent {
namespace {

using testing::Fixture;

TEST(LoadGeneratorTest, ErrorsByKindAndZeroThroughputFailTheRun) {
  v1::OperationResult ok;
  ok.set_operation("GET");
  ok.set_throughput_ops(1000);
  EXPECT_TRUE(RequireServedWithoutErrors("t", {ok}).ok());
  v1::OperationResult idle = ok;
  idle.set_operation("SET");
  idle.set_throughput_ops(0);
  EXPECT_EQ(RequireServedWithoutErrors("t", {ok, idle}).message(),
            "t reported zero throughput for SET");
  v1::OperationResult bad = ok;
  bad.set_requests(40);
  bad.set_errors(3);
  (*bad.mutable_errors_by_kind())["timeout"] = 1;
  (*bad.mutable_errors_by_kind())["connect"] = 2;
  EXPECT_EQ(RequireServedWithoutErrors("t", {bad}).message(),
            "t saw 3 errors (connect 2, timeout 1) in 40 GET requests");
  // Socket errors and timeouts may pass (transient); wrong responses not.
  EXPECT_TRUE(absl::IsUnavailable(RequireServedWithoutErrors("t", {bad})));
  (*bad.mutable_errors_by_kind())["http_status"] = 1;
  EXPECT_TRUE(absl::IsFailedPrecondition(RequireServedWithoutErrors("t", {bad})));
  bad.clear_errors_by_kind();
  EXPECT_EQ(RequireServedWithoutErrors("t", {bad}).message(),
            "t saw 3 errors (unspecified 3) in 40 GET requests");
  EXPECT_EQ(DescribeErrors({{"connection", 1}}), "1 error (connection 1)");
}

// Exposes the progress throttle of the LoadGenerator base.
class ProgressProbe final : public LoadGenerator {
 public:
  using LoadGenerator::ReportProgress;
  std::vector<std::string> CommandLine(const v1::RunLoad&) const override { return {}; }
  absl::StatusOr<LoadResult> Run(const v1::RunLoad&, const std::string&, absl::Duration,
                                 const std::atomic<bool>*) override {
    return LoadResult{};
  }
};

// A pinned tool's output is kept under the tool's name, not taskset's.
TEST(LoadGeneratorTest, APinnedToolsOutputKeepsItsName) {
  testing::FakeCommandRunner runner;
  runner.installed = {"taskset"};
  runner.Answer("taskset -c 3 sockperf ping-pong", "sockperf: done\n");
  testing::SysrootBuilder dir;
  LocalFileSystem files;
  WorkloadEnv env{&runner, &files, nullptr};
  std::string raw;
  auto run = RunTool(env, PinnedCommand("3", {"sockperf", "ping-pong"}), dir.root(),
                     absl::Seconds(5), nullptr, &raw);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(raw, "sockperf: done\n");
  EXPECT_EQ(files.ReadFile(dir.root() + "/sockperf.out").value_or(""), "sockperf: done\n");
  EXPECT_FALSE(files.Exists(dir.root() + "/taskset.out"));
}

TEST(LoadGeneratorTest, ProgressIsAveragedDownToOneValuePerInterval) {
  ProgressProbe probe;
  std::vector<double> seen;
  probe.ReportProgress(5, absl::FromUnixSeconds(999));  // nobody asked: dropped
  probe.set_progress([&](double r) { seen.push_back(r); }, absl::Seconds(1));
  absl::Time t = absl::FromUnixSeconds(1000);
  // redis-benchmark prints every 250 ms.
  for (double r : {100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0, 800.0, 900.0}) {
    probe.ReportProgress(r, t);
    t += absl::Milliseconds(250);
  }
  // At 0 s (first, at once), at 1 s (mean of 0.25..1 s) and at 2 s.
  EXPECT_EQ(seen, (std::vector<double>{100, 350, 750}));
}

}  // namespace
}  // namespace iommuvm::agent
