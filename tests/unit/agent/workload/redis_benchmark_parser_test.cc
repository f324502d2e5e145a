
#include "agent/workload/redis_benchmark_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/fixtures.h"
#include "tests/support/status_matchers.h"

namespace iommuvm::agent {
namespace {

using ::iommuvm::testing::IsOk;
using ::iommuvm::testing::StatusIs;
using ::testing::HasSubstr;

// Outputs recorded from the real redis-benchmark 7.0.15 (tests/fixtures).
std::string Fixture(const std::string& name) { return testing::Fixture("redis_benchmark/" + name); }

TEST(RedisBenchmarkParserTest, Csv) {
  auto r = ParseRedisBenchmark(Fixture("csv_set_get.txt"));
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->size(), 2u);
  const auto& set = (*r)[0];
  EXPECT_EQ(set.operation(), "SET");
  EXPECT_DOUBLE_EQ(set.throughput_ops(), 95238.10);
  EXPECT_DOUBLE_EQ(set.latency_mean_us(), 62);
  EXPECT_DOUBLE_EQ(set.latency_min_us(), 16);
  EXPECT_DOUBLE_EQ(set.latency_p50_us(), 55);
  EXPECT_DOUBLE_EQ(set.latency_p95_us(), 119);
  EXPECT_DOUBLE_EQ(set.latency_p99_us(), 175);
  EXPECT_DOUBLE_EQ(set.latency_max_us(), 383);
  const auto& get = (*r)[1];
  EXPECT_EQ(get.operation(), "GET");
  EXPECT_DOUBLE_EQ(get.throughput_ops(), 96618.36);
  EXPECT_DOUBLE_EQ(get.latency_p99_us(), 111);
}

TEST(RedisBenchmarkParserTest, CsvWithPipelining) {
  auto r = ParseRedisBenchmark(Fixture("csv_pipeline.txt"));
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].operation(), "LPUSH");
  EXPECT_DOUBLE_EQ((*r)[1].throughput_ops(), 1428571.38);
  EXPECT_DOUBLE_EQ((*r)[1].latency_max_us(), 935);
}

TEST(RedisBenchmarkParserTest, OldTwoColumnCsv) {
  auto r = ParseRedisBenchmark("\"PING_INLINE\",\"81300.81\"\n\"SET\",\"80645.16\"\n");
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_DOUBLE_EQ((*r)[1].throughput_ops(), 80645.16);
  EXPECT_EQ((*r)[1].latency_p50_us(), 0);
}

TEST(RedisBenchmarkParserTest, QuietWithCarriageReturnProgress) {
  auto r = ParseRedisBenchmark(Fixture("quiet_set_get.txt"));
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].operation(), "SET");
  EXPECT_DOUBLE_EQ((*r)[0].throughput_ops(), 94339.62);
  EXPECT_DOUBLE_EQ((*r)[0].latency_p50_us(), 63);
  EXPECT_EQ((*r)[1].operation(), "GET");
  EXPECT_DOUBLE_EQ((*r)[1].throughput_ops(), 91743.12);
}

TEST(RedisBenchmarkParserTest, PlainReport) {
  auto r = ParseRedisBenchmark(Fixture("plain_get.txt"));
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->size(), 1u);
  const auto& get = (*r)[0];
  EXPECT_EQ(get.operation(), "GET");
  EXPECT_DOUBLE_EQ(get.throughput_ops(), 86206.90);
  EXPECT_EQ(get.requests(), 10000u);
  EXPECT_DOUBLE_EQ(get.duration_s(), 0.12);
  EXPECT_DOUBLE_EQ(get.latency_mean_us(), 38);
  EXPECT_DOUBLE_EQ(get.latency_min_us(), 16);
  EXPECT_DOUBLE_EQ(get.latency_p50_us(), 39);
  EXPECT_DOUBLE_EQ(get.latency_p95_us(), 55);
  EXPECT_DOUBLE_EQ(get.latency_p99_us(), 79);
  EXPECT_DOUBLE_EQ(get.latency_max_us(), 463);
  // From the percentile distribution: first bucket at or above 90% / 99.9%.
  EXPECT_DOUBLE_EQ(get.latency_p90_us(), 63);
  EXPECT_DOUBLE_EQ(get.latency_p999_us(), 223);
}

TEST(RedisBenchmarkParserTest, PlainReportWithTwoTests) {
  auto r = ParseRedisBenchmark(Fixture("plain_set_get.txt"));
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].operation(), "SET");
  EXPECT_EQ((*r)[1].operation(), "GET");
  for (const auto& op : *r) {
    EXPECT_GT(op.throughput_ops(), 0);
    EXPECT_LE(op.latency_p50_us(), op.latency_p99_us());
    EXPECT_LE(op.latency_p99_us(), op.latency_max_us());
    EXPECT_EQ(op.requests(), 20000u);
  }
}

// The progress lines of a recorded report, fed in small chunks: each
// positive instantaneous rate once; the first line's rps=0.0 is not a rate.
TEST(RedisBenchmarkParserTest, ProgressFromTheDefaultReport) {
  std::string out = Fixture("plain_set_get.txt");
  std::vector<double> rps;
  RedisBenchmarkProgress progress([&](double v) { rps.push_back(v); });
  for (size_t i = 0; i < out.size(); i += 5) progress.Feed(absl::string_view(out).substr(i, 5));
  size_t expected = 0;
  for (size_t at = out.find(": rps="); at != std::string::npos; at = out.find(": rps=", at + 1)) {
    expected += out.compare(at, 10, ": rps=0.0 ") == 0 ? 0 : 1;
  }
  EXPECT_EQ(rps.size(), expected);
  for (double v : rps) EXPECT_GT(v, 0);
}

TEST(RedisBenchmarkParserTest, ConnectionRefusedKeepsTheToolsWords) {
  EXPECT_THAT(ParseRedisBenchmark(Fixture("error_refused.txt")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("Could not connect to Redis at 127.0.0.1:6399: "
                                 "Connection refused")));
}

TEST(RedisBenchmarkParserTest, ServerErrorKeepsTheServersWords) {
  EXPECT_THAT(ParseRedisBenchmark(Fixture("error_noauth.txt")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("replied with error: NOAUTH Authentication required.")));
}

// redis 6.0 (and 5.0, Ubuntu 20.04's redis-tools, whose report has the same shape):
// bucket lines and a bare "requests per second" line, no summary.
TEST(RedisBenchmarkParserTest, PlainReportOfRedis6) {
  auto r = ParseRedisBenchmark(Fixture("plain_6.0_composed.txt"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  const auto& get = (*r)[0];
  EXPECT_EQ(get.operation(), "GET");
  EXPECT_DOUBLE_EQ(get.throughput_ops(), 87719.30);
  EXPECT_EQ(get.requests(), 100000u);
  EXPECT_DOUBLE_EQ(get.duration_s(), 1.14);
  EXPECT_DOUBLE_EQ(get.latency_p50_us(), 300);  // 61.87% <= 0.3 ms
  EXPECT_DOUBLE_EQ(get.latency_p90_us(), 400);
  EXPECT_DOUBLE_EQ(get.latency_p95_us(), 500);
  EXPECT_DOUBLE_EQ(get.latency_p99_us(), 700);
  EXPECT_DOUBLE_EQ(get.latency_p999_us(), 1000);
  EXPECT_DOUBLE_EQ(get.latency_max_us(), 3000);
  EXPECT_EQ(get.latency_mean_us(), 0) << "6.0 reports no average: left unset";
}

// A CSV column this parser does not know is refused, never dropped.
TEST(RedisBenchmarkParserTest, CsvWithAnUnknownColumnIsRefused) {
  EXPECT_THAT(ParseRedisBenchmark("\"test\",\"rps\",\"avg_latency_ms\",\"p999_latency_ms\"\n"
                                  "\"GET\",\"87719.30\",\"0.305\",\"1.2\"\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("has a column 'p999_latency_ms' this parser does not know")));
}

TEST(RedisBenchmarkParserTest, NoResultIsAnError) {
  EXPECT_THAT(ParseRedisBenchmark(""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("(no output)")));
  EXPECT_THAT(ParseRedisBenchmark("\"test\",\"rps\"\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no result")));
}

}  // namespace
}  // namespace iommuvm::agent
