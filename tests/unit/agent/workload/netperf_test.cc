// netperf TCP_RR: the command line and the keyword output, composed from
// netperf 2.7.0's nettest_omni.c and netlib.c (netperf is not packaged
// here).
#include "agent/workload/netperf.h"

#include <gtest/gtest.h>

#include "absl/strings/str_join.h"
#include "agent/workload/netperf_parser.h"
#include "tests/support/fixtures.h"

namespace iommuvm::agent {
namespace {

using testing::Fixture;

TEST(NetperfParserTest, KeywordOutputOfTcpRr) {
  auto op = ParseNetperf(Fixture("netperf/2.7.0-composed-tcp_rr.txt"));
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_EQ(op->operation(), "TCP_RR");
  EXPECT_DOUBLE_EQ(op->throughput_ops(), 19452.118);
  EXPECT_DOUBLE_EQ(op->duration_s(), 10.0);
  EXPECT_EQ(op->requests(), 194521u);
  EXPECT_NEAR(op->throughput_bytes(), 19452.118 * 128, 1e-6);
  EXPECT_DOUBLE_EQ(op->latency_min_us(), 38);
  EXPECT_DOUBLE_EQ(op->latency_mean_us(), 51.27);
  EXPECT_DOUBLE_EQ(op->latency_p50_us(), 49);
  EXPECT_DOUBLE_EQ(op->latency_p90_us(), 58);
  EXPECT_DOUBLE_EQ(op->latency_p99_us(), 89);
  EXPECT_DOUBLE_EQ(op->latency_max_us(), 1423);
}

TEST(NetperfParserTest, NoServerIsNetperfsOwnWords) {
  auto op = ParseNetperf(Fixture("netperf/2.7.0-composed-refused.txt"));
  ASSERT_FALSE(op.ok());
  EXPECT_TRUE(absl::IsUnavailable(op.status()));
  EXPECT_EQ(op.status().message(),
            "netperf: establish control: are you sure there is a netserver listening on "
            "10.0.1.1 at port 12865?");
  EXPECT_TRUE(absl::IsInvalidArgument(ParseNetperf("").status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(ParseNetperf("TRANSACTION_RATE=10.000\n").status()));
}

TEST(NetperfTest, CommandLineAsksForTheParsedSelectors) {
  WorkloadEnv env;
  Netperf netperf(env);
  v1::RunLoad load;
  load.set_target_host("10.0.1.1");
  load.set_target_port(12865);
  load.set_duration_ms(10000);
  load.set_message_size(256);
  load.set_cores("3");
  EXPECT_EQ(absl::StrJoin(netperf.CommandLine(load), " "),
            "taskset -c 3 netperf -H 10.0.1.1 -p 12865 -t TCP_RR -l 10 -j -P 0 -- -r 256,256 -k "
            "TRANSACTION_RATE,ELAPSED_TIME,REQUEST_SIZE,RESPONSE_SIZE,MIN_LATENCY,MEAN_LATENCY,"
            "P50_LATENCY,P90_LATENCY,P99_LATENCY,MAX_LATENCY,STDDEV_LATENCY");
}

}  // namespace
}  // namespace iommuvm::agent
