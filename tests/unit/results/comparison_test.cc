// `iommuvm compare`: the grouping of results by workload, VM, parameters,
// operation and mode, changes against the baseline, simulated modes.
#include "results/comparison.h"

#include <gtest/gtest.h>

#include "results/html_report.h"
#include "results/statistics.h"
#include "results/steady_state.h"
#include "tests/unit/results/result_rows.h"

namespace iommuvm::results {
namespace {

// Modes of a simulated node were generated, not run: comparing them is
// refused unless asked, and then every row and the report say so.
TEST(ComparisonTest, SimulatedRunsAreRefusedUnlessAskedAndThenMarked) {
  std::vector<v1::ResultRow> rows;
  for (double v : {100.0, 102.0}) rows.push_back(Row(v1::IOMMU_MODE_OFF, "redis", "GET", v));
  for (double v : {80.0, 81.0}) rows.push_back(Row(v1::IOMMU_MODE_STRICT, "redis", "GET", v));
  for (auto& r : rows) r.set_simulated(true);
  rows[3].set_unsteady("1 of 6 intervals below 50% of the median");
  auto refused = Compare(rows, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status()));
  EXPECT_NE(refused.status().message().find("--allow-simulated"), std::string::npos);
  CompareOptions o;
  o.allow_simulated = true;
  auto out = Compare(rows, o);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_TRUE((*out)[0].simulated && (*out)[1].simulated);
  EXPECT_EQ((*out)[0].unsteady, 0u);
  EXPECT_EQ((*out)[1].unsteady, 1u) << "strict: one of its two runs was unsteady";
  ReportInput in;
  in.rows = rows;
  std::string html = RenderHtmlReport(in);
  EXPECT_NE(html.find("<strong>SIMULATED:</strong>"), std::string::npos);
  EXPECT_NE(html.find(">strict<"), std::string::npos) << "the costs are still shown";
  EXPECT_NE(html.find("2 (1 unsteady)"), std::string::npos);
  EXPECT_NE(html.find("1 of 6 intervals below 50% of the median"), std::string::npos);
  for (auto& r : in.rows) r.set_simulated(false);
  EXPECT_EQ(RenderHtmlReport(in).find("SIMULATED"), std::string::npos);
}

TEST(ComparisonTest, GroupsByWorkloadAndOperationWithTheFirstModeAsBaseline) {
  std::vector<v1::ResultRow> rows;
  for (double v : {100.0, 102.0, 98.0}) rows.push_back(Row(v1::IOMMU_MODE_OFF, "redis", "GET", v));
  for (double v : {80.0, 81.0, 79.0}) rows.push_back(Row(v1::IOMMU_MODE_STRICT, "redis", "GET", v));
  for (double v : {95.0, 96.0, 94.0}) rows.push_back(Row(v1::IOMMU_MODE_LAZY, "redis", "GET", v));
  rows.push_back(Row(v1::IOMMU_MODE_STRICT, "redis", "GET", 1, v1::RUN_STATE_FAILED));  // ignored
  rows.push_back(Row(v1::IOMMU_MODE_LAZY, "nginx", "GET", 50));
  v1::ResultRow current = Row(v1::IOMMU_MODE_CURRENT, "nginx", "GET", 40);
  current.set_detected_mode("strict");  // counts as strict
  rows.push_back(current);

  auto out = Compare(rows, {});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 5u);
  // nginx first (groups sorted), lazy is its baseline (no off there).
  EXPECT_EQ((*out)[0].workload, "nginx");
  EXPECT_EQ((*out)[0].mode, "lazy");
  EXPECT_TRUE((*out)[0].is_baseline);
  EXPECT_EQ((*out)[1].mode, "strict");
  EXPECT_NEAR((*out)[1].change->percent, -20, 1e-9);
  EXPECT_FALSE((*out)[1].change->low);  // one repetition each
  // redis: off, lazy, strict in protection order.
  EXPECT_EQ((*out)[2].mode, "off");
  EXPECT_EQ((*out)[2].summary.n, 3u);
  EXPECT_EQ((*out)[3].mode, "lazy");
  EXPECT_NEAR((*out)[3].change->percent, -5, 1e-9);
  EXPECT_EQ((*out)[4].mode, "strict");
  EXPECT_EQ((*out)[4].summary.n, 3u);  // the failed run left out
  EXPECT_NEAR((*out)[4].change->percent, -20, 1e-9);
  EXPECT_TRUE((*out)[4].change->significant());

  // Another baseline and metric.
  CompareOptions o;
  o.baseline = "strict";
  o.metric = "p99";
  auto vs_strict = Compare(rows, o);
  ASSERT_TRUE(vs_strict.ok());
  EXPECT_TRUE((*vs_strict)[4].is_baseline);
  EXPECT_GT((*vs_strict)[4].summary.mean, (*vs_strict)[2].summary.mean);  // strict is slower
}

// iperf3 moves bytes and makes no requests: its results compare in Gbit/s,
// by default when every result is of such a tool, and the report says so.
TEST(ComparisonTest, BulkResultsCompareInGbitPerSecond) {
  std::vector<v1::ResultRow> rows;
  for (double gbit : {90.0, 92.0}) {
    for (auto mode : {v1::IOMMU_MODE_OFF, v1::IOMMU_MODE_STRICT}) {
      v1::ResultRow r = Row(mode, "iperf3", "total", 0);
      r.mutable_result()->set_throughput_bytes((mode == v1::IOMMU_MODE_STRICT ? gbit / 2 : gbit) *
                                               1e9 / 8);
      rows.push_back(r);
    }
  }
  EXPECT_EQ(DefaultMetric(rows), "gbps");
  CompareOptions o;
  o.metric = "gbps";
  auto out = Compare(rows, o);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_DOUBLE_EQ((*out)[0].summary.mean, 91.0);
  EXPECT_DOUBLE_EQ((*out)[1].summary.mean, 45.5);
  ReportInput in;
  in.rows = rows;
  std::string html = RenderHtmlReport(in);
  EXPECT_NE(html.find("<th>throughput (Gbit/s)</th>"), std::string::npos) << html;
  EXPECT_NE(html.find("91.00"), std::string::npos);
  // One request-serving result among them: throughput (ops/s) again.
  rows.push_back(Row(v1::IOMMU_MODE_OFF, "redis", "GET", 100));
  EXPECT_EQ(DefaultMetric(rows), "throughput");
}

// The IOMMU work per request each mode's runs did, averaged per row.
TEST(ComparisonTest, IommuWorkAndSoftirqPerRequestPerMode) {
  std::vector<v1::ResultRow> rows;
  for (double softirq : {2.0, 4.0}) {
    v1::ResultRow strict = Row(v1::IOMMU_MODE_STRICT, "redis", "GET", 900);
    strict.set_iommu_maps_per_request(2);
    strict.set_iommu_unmaps_per_request(2);
    strict.set_iommu_invalidations_per_request(2);
    strict.set_softirq_us_per_request(softirq);
    rows.push_back(strict);
    rows.push_back(Row(v1::IOMMU_MODE_OFF, "redis", "GET", 1000));
  }
  auto out = Compare(rows, {});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 2u);
  const ComparisonRow& strict = (*out)[1];
  EXPECT_EQ(strict.mode, "strict");
  EXPECT_DOUBLE_EQ(strict.unmaps_per_request, 2);
  EXPECT_DOUBLE_EQ(strict.softirq_us_per_request, 3);
  EXPECT_DOUBLE_EQ((*out)[0].softirq_us_per_request, 0);
  ASSERT_TRUE(strict.change.has_value());
  EXPECT_NEAR(strict.change->percent, -10, 1e-9);
}

TEST(ComparisonTest, UnknownMetricOrBaselineIsAnError) {
  std::vector<v1::ResultRow> rows = {Row(v1::IOMMU_MODE_OFF, "redis", "GET", 100)};
  CompareOptions bad_metric;
  bad_metric.metric = "p95";
  EXPECT_EQ(Compare(rows, bad_metric).status().message(),
            "metric 'p95' is not one of throughput, gbps, p50, p90, p99, p999, cpu");
  CompareOptions bad_base;
  bad_base.baseline = "passthrough";
  EXPECT_EQ(Compare(rows, bad_base).status().message(),
            "no succeeded run in mode 'passthrough' to compare against");
}

}  // namespace
}  // namespace iommuvm::results
