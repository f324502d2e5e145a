// Steady-state checks over server telemetry: stalls fail, partial
// degradation marks a run unsteady.
#include "results/steady_state.h"

#include <gtest/gtest.h>

#include "results/comparison.h"
#include "results/html_report.h"
#include "results/statistics.h"

namespace iommuvm::results {
namespace {

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
  EXPECT_TRUE(
      JudgeLoad(Rates({25000, 24000, 26000, 3, 25000, 24500, 25500, 25000}), 0, 4000, 500, 50)
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
