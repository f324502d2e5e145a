// Student-t quantiles, means and intervals, relative changes against
// published values.
#include "results/statistics.h"

#include <gtest/gtest.h>

#include "results/comparison.h"
#include "results/html_report.h"
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

}  // namespace
}  // namespace iommuvm::results
