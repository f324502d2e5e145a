// sockperf ping-pong: outputs recorded from 3.7 and composed from 3.5's and
// 3.10's client.cpp; every result is in round-trip times.
#include "agent/workload/sockperf.h"

#include <gtest/gtest.h>

#include "agent/workload/sockperf_parser.h"
#include "tests/support/fixtures.h"

namespace iommuvm::agent {
namespace {

using testing::Fixture;

TEST(SockperfParserTest, RecordedFullRoundTrip) {
  auto op = ParseSockperf(Fixture("sockperf/3.7-full-rtt.txt"), 64);
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_EQ(op->operation(), "ping-pong");
  // The valid part only: 20386 round trips in 1.550 s.
  EXPECT_EQ(op->requests(), 20386u);
  EXPECT_DOUBLE_EQ(op->duration_s(), 1.55);
  EXPECT_NEAR(op->throughput_ops(), 20386 / 1.55, 1e-6);
  EXPECT_NEAR(op->throughput_bytes(), 20386 * 128 / 1.55, 1e-3);
  EXPECT_DOUBLE_EQ(op->latency_mean_us(), 75.988);
  EXPECT_DOUBLE_EQ(op->latency_min_us(), 15.082);
  EXPECT_DOUBLE_EQ(op->latency_p50_us(), 72.146);
  EXPECT_DOUBLE_EQ(op->latency_p90_us(), 96.182);
  EXPECT_DOUBLE_EQ(op->latency_p99_us(), 127.368);
  EXPECT_DOUBLE_EQ(op->latency_p999_us(), 198.007);
  EXPECT_DOUBLE_EQ(op->latency_max_us(), 3609.833);
  EXPECT_EQ(op->latency_p95_us(), 0);  // sockperf prints no p95
  EXPECT_EQ(op->errors(), 0u);
}

TEST(SockperfParserTest, HalfRoundTripsAreDoubled) {
  // 3.7 without --full-rtt prints "avg-latency", 3.5 "avg-lat": half the
  // round trip, doubled so every version reports the same quantity.
  auto v37 = ParseSockperf(Fixture("sockperf/3.7-half-rtt.txt"), 64);
  ASSERT_TRUE(v37.ok()) << v37.status();
  EXPECT_DOUBLE_EQ(v37->latency_mean_us(), 2 * 29.087);
  EXPECT_DOUBLE_EQ(v37->latency_p99_us(), 2 * 47.049);
  auto v35 = ParseSockperf(Fixture("sockperf/3.5-composed-half-rtt.txt"), 64);
  ASSERT_TRUE(v35.ok()) << v35.status();
  EXPECT_DOUBLE_EQ(v35->latency_mean_us(), 2 * 12.125);
  EXPECT_DOUBLE_EQ(v35->latency_p50_us(), 2 * 11.905);
  EXPECT_EQ(v35->requests(), 393790u);
}

TEST(SockperfParserTest, Version310StatisticsAndDuplicates) {
  auto op = ParseSockperf(Fixture("sockperf/3.10-composed-full-rtt.txt"), 64);
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_DOUBLE_EQ(op->latency_mean_us(), 19.52);
  EXPECT_DOUBLE_EQ(op->latency_p999_us(), 35.46);
  EXPECT_EQ(op->errors(), 2u);
  EXPECT_EQ(op->errors_by_kind().at("duplicated"), 2u);
}

TEST(SockperfParserTest, RefusedIsTransientWithSockperfsWords) {
  // sockperf exits 0 here: only its output tells.
  auto op = ParseSockperf(Fixture("sockperf/3.7-refused.txt"), 64);
  EXPECT_TRUE(absl::IsUnavailable(op.status())) << op.status();
  EXPECT_NE(op.status().message().find("Connection refused"), std::string::npos);
  EXPECT_TRUE(absl::IsInvalidArgument(ParseSockperf("hello", 64).status()));
}

TEST(SockperfTest, CommandLineAndFullRttByVersion) {
  WorkloadEnv env{};
  Sockperf tool(env);
  v1::RunLoad load;
  load.set_target_host("10.10.1.1");
  load.set_target_port(11111);
  load.set_duration_ms(5000);
  load.set_message_size(256);
  load.set_rate(10000);
  load.set_cores("3");
  EXPECT_EQ(tool.CommandLine(load),
            (std::vector<std::string>{"taskset", "-c", "3", "sockperf", "ping-pong", "--tcp", "-i",
                                      "10.10.1.1", "-p", "11111", "-t", "5", "-m", "256",
                                      "--full-rtt", "--mps=10000"}));
  EXPECT_TRUE(Sockperf::HasFullRtt("sockperf, version 3.7-no.git"));
  EXPECT_TRUE(Sockperf::HasFullRtt("sockperf, version 3.10-0.git9ab6b2a7bd5c"));
  EXPECT_FALSE(Sockperf::HasFullRtt("sockperf, version 3.5-no.git"));
}

}  // namespace
}  // namespace iommuvm::agent
