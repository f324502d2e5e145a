// The HTML report: cost tables, bars, runs, and the spec escaped.
#include "results/html_report.h"

#include <gtest/gtest.h>

#include "results/comparison.h"
#include "results/statistics.h"
#include "results/steady_state.h"
#include "tests/unit/results/result_rows.h"

namespace iommuvm::results {
namespace {

TEST(HtmlReportTest, CostTablesBarsRunsAndTheSpecEscaped) {
  ReportInput in;
  in.experiment.set_id(4);
  in.experiment.set_name("a<b & \"c\"");
  in.experiment.set_state(v1::EXPERIMENT_STATE_SUCCEEDED);
  in.experiment.set_spec_yaml("name: x\n# <script>alert(1)</script>\n");
  for (double v : {100.0, 102.0, 98.0})
    in.rows.push_back(Row(v1::IOMMU_MODE_OFF, "redis", "GET", v));
  for (double v : {80.0, 81.0, 79.0})
    in.rows.push_back(Row(v1::IOMMU_MODE_STRICT, "redis", "GET", v));
  in.rows.push_back(Row(v1::IOMMU_MODE_STRICT, "redis", "GET", 1, v1::RUN_STATE_FAILED));
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

}  // namespace
}  // namespace iommuvm::results
