// memcaslap reports recorded from the real tool: timed and request-bound
// runs, periodic tables, terminal escapes, refused connections.
#include "agent/workload/memcaslap_parser.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "agent/workload/memcaslap.h"
#include "agent/workload/memtier.h"
#include "agent/workload/memtier_parser.h"
#include "agent/workload/nginx_server.h"
#include "agent/workload/redis_benchmark.h"
#include "agent/workload/server_application.h"
#include "agent/workload/wrk.h"
#include "agent/workload/wrk_parser.h"
#include "tests/support/fake_command_runner.h"
#include "tests/support/fixtures.h"
#include "tests/support/status_matchers.h"
#include "tests/support/sysroot_builder.h"

namespace iommuvm::agent {
namespace {

using testing::Fixture;

TEST(MemcaslapParserTest, TimedRunWithEscapesAndPeriodicTables) {
  auto ops = ParseMemcaslap(Fixture("memcaslap/time-2s-stat.txt"));
  ASSERT_TRUE(ops.ok()) << ops.status();
  ASSERT_EQ(ops->size(), 2u);
  const v1::OperationResult& get = (*ops)[0];
  const v1::OperationResult& set = (*ops)[1];
  EXPECT_EQ(get.operation(), "GET");
  EXPECT_EQ(set.operation(), "SET");
  for (const auto& op : *ops) {
    SCOPED_TRACE(op.operation());
    EXPECT_GT(op.throughput_ops(), 0);
    EXPECT_GT(op.requests(), 0u);
    EXPECT_DOUBLE_EQ(op.duration_s(), 2.0);
    EXPECT_NEAR(op.throughput_ops(), op.requests() / 2.0, 1e-6);
    EXPECT_LE(op.latency_min_us(), op.latency_p50_us());
    EXPECT_LE(op.latency_p50_us(), op.latency_p90_us());
    EXPECT_LE(op.latency_p90_us(), op.latency_p99_us());
    EXPECT_LE(op.latency_p99_us(), op.latency_p999_us());
    EXPECT_LE(op.latency_p999_us(), op.latency_max_us());
    EXPECT_GT(op.latency_mean_us(), 0);
  }
  // About 9 gets for every set (memcaslap's default proportion).
  EXPECT_NEAR(get.throughput_ops() / set.throughput_ops(), 9.0, 0.5);
}

TEST(MemcaslapParserTest, RequestBoundRunWithRatioConfig) {
  std::string out = Fixture("memcaslap/requests-ratio-1to1.txt");
  auto ops = ParseMemcaslap(out);
  ASSERT_TRUE(ops.ok()) << ops.status();
  ASSERT_EQ(ops->size(), 2u);
  EXPECT_EQ((*ops)[0].requests() + (*ops)[1].requests(), 50000u);
  EXPECT_DOUBLE_EQ((*ops)[0].duration_s(), 0.4);
  EXPECT_NEAR(static_cast<double>((*ops)[0].requests()) / (*ops)[1].requests(), 1.0, 0.05);
  // 17983 of the 25000 gets sit in bucket 6, (32, 64] µs, and 3404 below:
  // the median is 32 + 32 * (12500 - 3404) / 17983 = 48.2 µs (the tool's
  // own average is 57 µs).
  EXPECT_NEAR((*ops)[0].latency_p50_us(), 48.19, 0.01);
  EXPECT_DOUBLE_EQ((*ops)[0].latency_mean_us(), 57);
  EXPECT_DOUBLE_EQ((*ops)[0].latency_min_us(), 11);
  EXPECT_DOUBLE_EQ((*ops)[0].latency_max_us(), 7270);
}

TEST(MemcaslapParserTest, RefusedConnectionIsAnError) {
  auto ops = ParseMemcaslap(Fixture("memcaslap/refused.txt"));
  ASSERT_FALSE(ops.ok());
  EXPECT_NE(ops.status().message().find("memcaslap reported no statistics"), std::string::npos);
  EXPECT_NE(ops.status().message().find("servers: 127.0.0.1:1"), std::string::npos);
}

// Fed in small chunks as the tool writes it, the periodic "Total
// Statistics" tables yield the interval throughput (TPS column); the
// per-operation tables and the final distributions do not.
TEST(MemcaslapParserTest, ProgressFromPeriodicTables) {
  std::string out = Fixture("memcaslap/time-2s-stat.txt");
  std::vector<double> tps;
  MemcaslapProgress progress([&](double v) { tps.push_back(v); });
  for (size_t i = 0; i < out.size(); i += 7) progress.Feed(absl::string_view(out).substr(i, 7));
  EXPECT_EQ(tps, (std::vector<double>{162224}));
}

}  // namespace
}  // namespace iommuvm::agent
