// Statistics of `iommuvm compare` against published values, and the
// grouping of results by workload, VM, parameters, operation and mode.
#include "results/comparison.h"

#include <gtest/gtest.h>

#include "results/html_report.h"
#include "results/statistics.h"
#include "results/steady_state.h"

namespace iommuvm::results {
namespace {

TEST(StatisticsTest, StudentTQuantilesMatchTheTables) {
  // Two-sided 95% critical values.
  EXPECT_NEAR(StudentTQuantile(0.975, 1), 12.706, 1e-3);
  EXPECT_NEAR(StudentTQuantile(0.975, 2), 4.303, 1e-3);
  EXPECT_NEAR(StudentTQuantile(0.975, 4), 2.776, 1e-3);
  EXPECT_NEAR(StudentTQuantile(0.975, 9), 2.262, 1e-3);
  EXPECT_NEAR(StudentTQuantile(0.975, 29), 2.045, 1e-3);
  EXPECT_NEAR(StudentTQuantile(0.975, 1e6), 1.960, 1e-3);
  EXPECT_NEAR(StudentTQuantile(0.995, 4), 4.604, 1e-3);
  EXPECT_NEAR(StudentTQuantile(0.5, 7), 0, 1e-6);
  EXPECT_NEAR(StudentTQuantile(0.025, 4), -2.776, 1e-3);
}

TEST(StatisticsTest, MeanAndIntervalOfASample) {
  Summary s = Summarize({10, 12, 14});
  EXPECT_EQ(s.n, 3u);
  EXPECT_DOUBLE_EQ(s.mean, 12);
  EXPECT_DOUBLE_EQ(s.sd, 2);
  ASSERT_TRUE(s.ci_half);
  EXPECT_NEAR(*s.ci_half, 4.303 * 2 / std::sqrt(3.0), 1e-3);
  EXPECT_FALSE(Summarize({5}).ci_half);  // one repetition: no interval
  EXPECT_EQ(Summarize({}).n, 0u);
}

TEST(StatisticsTest, RelativeChangeAndItsInterval) {
  Summary base = Summarize({100, 102, 98, 101, 99});
  Summary slower = Summarize({80, 82, 78, 81, 79});
  Change c = RelativeChange(slower, base);
  EXPECT_NEAR(c.percent, -20, 1e-9);
  ASSERT_TRUE(c.low && c.high);
  EXPECT_LT(*c.low, -20);
  EXPECT_GT(*c.high, -20);
  EXPECT_TRUE(c.significant());
  // The same distribution: an interval around 0, not significant.
  Change same = RelativeChange(Summarize({99, 101, 100, 102, 98}), base);
  EXPECT_NEAR(same.percent, 0, 1e-9);
  EXPECT_FALSE(same.significant());
  // On the log scale the interval is asymmetric and stays above -100%.
  Change wild = RelativeChange(Summarize({10, 90, 20}), Summarize({100, 101, 99}));
  ASSERT_TRUE(wild.low);
  EXPECT_GT(*wild.low, -100);
  EXPECT_GT(*wild.high - wild.percent, wild.percent - *wild.low);
  // Noise as large as the difference: not significant.
  Change noisy = RelativeChange(Summarize({60, 120, 90}), Summarize({70, 130, 100}));
  EXPECT_FALSE(noisy.significant());
  // One repetition: a change, no interval.
  Change single = RelativeChange(Summarize({90}), base);
  EXPECT_NEAR(single.percent, -10, 1e-9);
  EXPECT_FALSE(single.low);
}

v1::ResultRow Row(v1::IommuMode mode, const std::string& workload, const std::string& op,
                  double ops, const std::string& state = "SUCCEEDED") {
  v1::ResultRow r;
  r.set_iommu(mode);
  r.set_workload(workload);
  r.set_vm("bare-metal");
  r.set_state(state);
  r.mutable_result()->set_operation(op);
  r.mutable_result()->set_throughput_ops(ops);
  r.mutable_result()->set_latency_p99_us(1e6 / ops);
  return r;
}

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
  rows.push_back(Row(v1::IOMMU_MODE_STRICT, "redis", "GET", 1, "FAILED"));  // ignored
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

TEST(ComparisonTest, UnknownMetricOrBaselineIsAnError) {
  std::vector<v1::ResultRow> rows = {Row(v1::IOMMU_MODE_OFF, "redis", "GET", 100)};
  CompareOptions bad_metric;
  bad_metric.metric = "p95";
  EXPECT_EQ(Compare(rows, bad_metric).status().message(),
            "metric 'p95' is not one of throughput, p50, p90, p99, p999, cpu");
  CompareOptions bad_base;
  bad_base.baseline = "passthrough";
  EXPECT_EQ(Compare(rows, bad_base).status().message(),
            "no succeeded run in mode 'passthrough' to compare against");
}

TEST(HtmlReportTest, CostTablesBarsRunsAndTheSpecEscaped) {
  ReportInput in;
  in.experiment.set_id(4);
  in.experiment.set_name("a<b & \"c\"");
  in.experiment.set_state("SUCCEEDED");
  in.experiment.set_spec_yaml("name: x\n# <script>alert(1)</script>\n");
  for (double v : {100.0, 102.0, 98.0}) in.rows.push_back(Row(v1::IOMMU_MODE_OFF, "redis", "GET", v));
  for (double v : {80.0, 81.0, 79.0}) in.rows.push_back(Row(v1::IOMMU_MODE_STRICT, "redis", "GET", v));
  in.rows.push_back(Row(v1::IOMMU_MODE_STRICT, "redis", "GET", 1, "FAILED"));
  std::string html = RenderHtmlReport(in);
  EXPECT_NE(html.find("<title>iommuvm experiment 4: a&lt;b &amp; &quot;c&quot;</title>"),
            std::string::npos);
  EXPECT_EQ(html.find("<script>"), std::string::npos);  // the spec is text, not markup
  EXPECT_NE(html.find("# &lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("<h3>redis — GET (bare-metal)</h3>"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  // off is the baseline; strict's drop is significant, so bold.
  EXPECT_NE(html.find("<td class=\"text\">off</td><td>3</td><td>100 ± 5</td><td>baseline</td>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<td class=\"sig\">-20.0% ["), std::string::npos) << html;
  // Every run is listed, the failed one too.
  EXPECT_NE(html.find("<td class=\"text\">FAILED</td>"), std::string::npos);
  EXPECT_EQ(HtmlEscape("<a href='x'>&</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;");
}

// Samples every 500 ms from t = 0 while a load ran from 0 to 6 s.
std::vector<RateSample> Rates(const std::vector<double>& values) {
  std::vector<RateSample> out;
  int64_t t = 500;
  for (double v : values) {
    out.push_back({t, v});
    t += 500;
  }
  return out;
}

TEST(SteadyStateTest, AnOutageMidRunIsAStallEvenWhenItDominates) {
  // Recorded shape of a veth cut 0.6 s into a 6 s wrk run: nginx's own
  // status probe keeps ~2 requests/s.
  auto cut = Rates({20746, 3368, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2});
  auto stall = FindStall(cut, 0, 6000, 500);
  ASSERT_TRUE(stall);
  EXPECT_NE(stall->find("almost nothing in 8 of 9 telemetry intervals"), std::string::npos)
      << *stall;
  EXPECT_NE(stall->find("it had reached 20746 requests/s"), std::string::npos);
  // One interval out in an otherwise busy run.
  EXPECT_TRUE(FindStall(Rates({25000, 24000, 26000, 3, 25000, 24500, 25500, 25000}), 0, 4000, 500));
}

TEST(SteadyStateTest, SteadyRunsEdgesAndShortRunsAreNotStalls) {
  // Noisy but steady (a 2x dip is a result, not an outage).
  EXPECT_FALSE(FindStall(Rates({20000, 24000, 12000, 25000, 23000, 24000, 22000}), 0, 3500, 500));
  // Ramp-up and tail fall outside the judged window.
  EXPECT_FALSE(FindStall(Rates({5, 24000, 25000, 24000, 25000, 24000, 3}), 0, 3500, 500));
  // Too few whole intervals to judge.
  EXPECT_FALSE(FindStall(Rates({25000, 2, 2, 2}), 0, 2000, 500));
  // No counter (all zero): nothing to judge by.
  EXPECT_FALSE(FindStall(Rates({0, 0, 0, 0, 0, 0, 0, 0}), 0, 4000, 500));
  // Samples of another window do not count.
  EXPECT_FALSE(FindStall(Rates({25000, 25000, 25000, 25000, 25000, 25000, 2, 2}), 0, 3000, 500));
}

TEST(SteadyStateTest, ALoadWithoutServerTelemetryNeverPasses) {
  auto j = JudgeLoad({}, 0, 4000, 500, 50);
  ASSERT_TRUE(j.failure);
  EXPECT_EQ(*j.failure,
            "no server telemetry for the load window (4.0 s): the server node's samples did not "
            "arrive, so a stall cannot be ruled out");
  // Samples only up to the middle of the load: the rest is a hole.
  j = JudgeLoad(Rates({25000, 25000, 25000, 25000}), 0, 6000, 500, 50);
  ASSERT_TRUE(j.failure);
  EXPECT_NE(j.failure->find("server telemetry missing for 4.0 s of the 6.0 s load window"),
            std::string::npos)
      << *j.failure;
  // A short load covered to its end passes; a stall still fails.
  EXPECT_FALSE(JudgeLoad(Rates({25000, 24000}), 0, 800, 500, 50).failure);
  EXPECT_TRUE(JudgeLoad(Rates({25000, 24000, 26000, 3, 25000, 24500, 25500, 25000}), 0, 4000,
                        500, 50)
                  .failure);
}

TEST(SteadyStateTest, APartlyDegradedRunIsMarkedUnsteadyNotFailed) {
  auto rates = Rates({24000, 25000, 24000, 9000, 25000, 24500, 25500, 25000, 24000});
  auto j = JudgeLoad(rates, 0, 4500, 500, 50);
  EXPECT_FALSE(j.failure);
  EXPECT_EQ(j.unsteady,
            "1 of 6 intervals below 50% of the median 25000 requests/s (lowest 9000 at 2.0 s)");
  EXPECT_EQ(JudgeLoad(rates, 0, 4500, 500, 0).unsteady, "") << "0 turns the mark off";
  EXPECT_EQ(JudgeLoad(Rates({24000, 25000, 24000, 20000, 25000, 24500, 25500, 25000, 24000}), 0,
                      4500, 500, 50)
                .unsteady,
            "");
}

}  // namespace
}  // namespace iommuvm::results
