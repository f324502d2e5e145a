// memtier_benchmark JSON as each version writes it (composed from its
// source, labelled so), including interrupted runs.
#include "agent/workload/memtier_parser.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "agent/workload/memcaslap.h"
#include "agent/workload/memcaslap_parser.h"
#include "agent/workload/memtier.h"
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

TEST(MemtierParserTest, Version2DocumentEveryField) {
  auto r = ParseMemtierJson(Fixture("memtier/2.x-redis-ratio-1to10.json"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->interrupted);
  EXPECT_TRUE(r->errors.empty());
  EXPECT_DOUBLE_EQ(r->duration_s, 2.0);
  ASSERT_EQ(r->operations.size(), 2u);
  const v1::OperationResult& set = r->operations[0];
  EXPECT_EQ(set.operation(), "SET");
  EXPECT_EQ(set.requests(), 18182u);
  EXPECT_DOUBLE_EQ(set.throughput_ops(), 9091);
  EXPECT_DOUBLE_EQ(set.throughput_bytes(), 938.54 * 1024);
  EXPECT_DOUBLE_EQ(set.latency_mean_us(), 512);
  EXPECT_DOUBLE_EQ(set.latency_min_us(), 87);
  EXPECT_DOUBLE_EQ(set.latency_max_us(), 7231);
  EXPECT_DOUBLE_EQ(set.duration_s(), 2.0);
  const v1::OperationResult& get = r->operations[1];
  EXPECT_EQ(get.operation(), "GET");
  EXPECT_EQ(get.requests(), 181818u);
  EXPECT_DOUBLE_EQ(get.throughput_ops(), 90909);
  EXPECT_DOUBLE_EQ(get.latency_p50_us(), 463);
  EXPECT_DOUBLE_EQ(get.latency_p90_us(), 687);
  EXPECT_DOUBLE_EQ(get.latency_p95_us(), 799);
  EXPECT_DOUBLE_EQ(get.latency_p99_us(), 1215);
  EXPECT_DOUBLE_EQ(get.latency_p999_us(), 3007);
  EXPECT_DOUBLE_EQ(get.latency_min_us(), 71);
  EXPECT_DOUBLE_EQ(get.latency_max_us(), 8015);
}

// memtier 1.3: no Runtime, no Count, no Percentile Latencies; the
// duration is the --test-time and the percentiles come from its histogram.
TEST(MemtierParserTest, Version13LayoutWithNanForTheCommandThatNeverRan) {
  auto r = ParseMemtierJson(Fixture("memtier/1.3-get-only.json"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->operations.size(), 1u);  // no SETs in a 0:1 ratio
  const v1::OperationResult& get = r->operations[0];
  EXPECT_EQ(get.operation(), "GET");
  EXPECT_DOUBLE_EQ(r->duration_s, 2);
  EXPECT_EQ(get.requests(), 200000u);  // Ops/sec x duration: 1.3 writes no Count
  EXPECT_DOUBLE_EQ(get.latency_mean_us(), 160);
  EXPECT_DOUBLE_EQ(get.latency_p50_us(), 160);  // first bucket at >= 50%
  EXPECT_DOUBLE_EQ(get.latency_p90_us(), 300);
  EXPECT_DOUBLE_EQ(get.latency_p99_us(), 400);
  EXPECT_DOUBLE_EQ(get.latency_p999_us(), 810);
  EXPECT_DOUBLE_EQ(get.latency_max_us(), 2000);
  EXPECT_FALSE(r->interrupted);
  // A request-bounded 1.3 run says neither its duration nor its counts.
  std::string bounded = Fixture("memtier/1.3-get-only.json");
  bounded.replace(bounded.find("\"Seconds\": 2"), 12, "\"Requests per client\": 100");
  EXPECT_THAT(ParseMemtierJson(bounded),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                ::testing::HasSubstr("a request-bounded memtier 1.3 run")));
}

TEST(MemtierParserTest, InterruptedRunAndConnectionErrorsAreReported) {
  auto r = ParseMemtierJson(Fixture("memtier/2.x-interrupted-connection-errors.json"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->interrupted);
  EXPECT_EQ(r->errors, (std::map<std::string, uint64_t>{{"connection", 3}}));
}

TEST(MemtierParserTest, NotJsonOrNoStatsIsAnError) {
  EXPECT_EQ(ParseMemtierJson("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(ParseMemtierJson("{\"configuration\": {}}").status().message().find("ALL STATS"),
            std::string::npos);
  EXPECT_NE(ParseMemtierJson("{\"ALL STATS\": {\"Runtime\": {\"Total duration\": 1000}, "
                             "\"Sets\": {\"Ops/sec\": 0}}}")
                .status()
                .message()
                .find("no SET or GET"),
            std::string::npos);
}

TEST(MemtierParserTest, ProgressFromTheRewrittenStderrLine) {
  std::vector<double> rates;
  MemtierProgress progress([&](double r) { rates.push_back(r); });
  std::string text = Fixture("memtier/stderr-progress.txt");
  // Arrives in arbitrary chunks.
  for (size_t i = 0; i < text.size(); i += 37) progress.Feed(absl::string_view(text).substr(i, 37));
  EXPECT_EQ(rates, (std::vector<double>{96412, 99932, 101321}));
}

}  // namespace
}  // namespace iommuvm::agent
