// wrk reports recorded from the real tool: every field, non-2xx as
// errors, wrk's own words for a refused connection.
#include "agent/workload/wrk_parser.h"

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
#include "tests/support/fake_command_runner.h"
#include "tests/support/fixtures.h"
#include "tests/support/status_matchers.h"
#include "tests/support/sysroot_builder.h"

namespace iommuvm::agent {
namespace {

using testing::Fixture;

TEST(WrkParserTest, OkRunEveryField) {
  auto r = ParseWrk(Fixture("wrk/ok-4KiB.txt"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->operation(), "GET");
  // The hook's line agrees with wrk's own report ("159355 requests in
  // 2.10s", "Latency 146.36us ... 4.35ms").
  EXPECT_EQ(r->requests(), 159355u);
  EXPECT_DOUBLE_EQ(r->duration_s(), 2.1003);
  EXPECT_NEAR(r->throughput_ops(), 159355 / 2.1003, 1e-6);
  EXPECT_NEAR(r->throughput_bytes(), 691121885 / 2.1003, 1e-3);
  EXPECT_DOUBLE_EQ(r->latency_mean_us(), 146.36);
  EXPECT_DOUBLE_EQ(r->latency_min_us(), 23);
  EXPECT_DOUBLE_EQ(r->latency_p50_us(), 125);
  EXPECT_DOUBLE_EQ(r->latency_p90_us(), 157);
  EXPECT_DOUBLE_EQ(r->latency_p99_us(), 716);
  EXPECT_DOUBLE_EQ(r->latency_p999_us(), 3445);
  EXPECT_DOUBLE_EQ(r->latency_max_us(), 4354);
  EXPECT_EQ(r->errors(), 0u);
  // Same numbers with or without --latency (the hook does not depend on it).
  auto plain = ParseWrk(Fixture("wrk/no-latency-flag.txt"));
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_GT(plain->throughput_ops(), 0);
}

TEST(WrkParserTest, Non2xxResponsesAreErrors) {
  auto r = ParseWrk(Fixture("wrk/status-404.txt"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->errors(), 89677u);
  EXPECT_EQ(r->requests(), 89677u);
  EXPECT_EQ(r->errors_by_kind().size(), 1u);
  EXPECT_EQ(r->errors_by_kind().at("http_status"), 89677u);
  EXPECT_EQ(RequireServedWithoutErrors("wrk", {*r}).message(),
            "wrk saw 89677 errors (http_status 89677) in 89677 GET requests");
}

TEST(WrkParserTest, RefusedConnectionCarriesWrksWords) {
  auto r = ParseWrk(Fixture("wrk/refused.txt"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "wrk printed no result: unable to connect to 127.0.0.1:1 Connection refused");
}

}  // namespace
}  // namespace iommuvm::agent
