// wrk2 as a load generator: its report (composed from wrk2's source).
#include "agent/workload/wrk.h"

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
#include "agent/workload/wrk_parser.h"
#include "tests/support/fake_command_runner.h"
#include "tests/support/fixtures.h"
#include "tests/support/status_matchers.h"
#include "tests/support/sysroot_builder.h"
#include "tests/support/workload_env.h"

namespace iommuvm::agent {
namespace {

using testing::Fixture;

// wrk2's report (composed from its source; not packaged here) carries the
// same hook line: calibration lines and the HdrHistogram table around it
// change nothing.
TEST(WrkTest, Wrk2ReportParses) {
  auto r = ParseWrk(testing::Fixture("wrk/wrk2-composed-ok.txt"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->requests(), 19998u);
  EXPECT_NEAR(r->throughput_ops(), 19998 / 10.001034, 1e-6);
  EXPECT_DOUBLE_EQ(r->latency_p50_us(), 1190);
  EXPECT_DOUBLE_EQ(r->latency_p999_us(), 4870);
  EXPECT_DOUBLE_EQ(r->latency_max_us(), 6079);
}

TEST(WrkTest, CommandLinesForWrkAndWrk2) {
  v1::RunLoad load;
  load.set_target_host("10.0.0.2");
  load.set_target_port(8080);
  load.set_clients(64);
  load.set_threads(4);
  load.set_duration_ms(15000);
  load.set_file_size(4096);
  load.set_rate(50000);
  EXPECT_EQ(Wrk(testing::HostEnv(nullptr), false).CommandLine(load),
            (std::vector<std::string>{"wrk", "-t", "4", "-c", "64", "-d", "15s", "--latency", "-s",
                                      "report.lua", "http://10.0.0.2:8080/file-4096"}));
  EXPECT_EQ(
      Wrk(testing::HostEnv(nullptr), true).CommandLine(load),
      (std::vector<std::string>{"wrk2", "-t", "4", "-c", "64", "-d", "15s", "--latency", "-s",
                                "report.lua", "-R", "50000", "http://10.0.0.2:8080/file-4096"}));
}

}  // namespace
}  // namespace iommuvm::agent
