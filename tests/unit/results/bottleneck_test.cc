// The bottleneck verdict of a run, on inputs as runs here measured them
// (tests/topology: iperf3 over a 10 Gbit/s veth read "link 100%, server
// node 100%, generator 45%"; sockperf ping-pong "link 0%, server node 16%,
// generator 18%"), and the warning compare gives when modes differ in it.
#include "results/bottleneck.h"

#include <gtest/gtest.h>

#include "results/comparison.h"

namespace iommuvm::results {
namespace {

BottleneckInputs Measured(std::optional<double> link, std::optional<double> server,
                          std::optional<double> generator) {
  BottleneckInputs in;
  in.link = link;
  if (link) in.link_gbps = 10;
  in.server_cpu = server;
  in.generator = generator;
  return in;
}

TEST(BottleneckTest, VerdictsInOrderLinkServerClient) {
  Bottleneck iperf3 = JudgeBottleneck(Measured(1.0, 1.0, 0.45));
  EXPECT_EQ(iperf3.verdict, "link");  // a full link bounds the CPUs behind it
  EXPECT_EQ(iperf3.evidence, "link 100% of 10 Gbit/s, server node 100%, generator 45%");
  EXPECT_EQ(JudgeBottleneck(Measured(0.16, 0.18, 0.18)).verdict, "none");
  EXPECT_EQ(JudgeBottleneck(Measured(0.5, 0.96, 0.99)).verdict, "server-cpu");
  EXPECT_EQ(JudgeBottleneck(Measured(0.5, 0.40, 0.97)).verdict, "client-cpu");
  // Thresholds: the link at 90%, CPUs at 95%.
  EXPECT_EQ(JudgeBottleneck(Measured(0.90, 0.1, 0.1)).verdict, "link");
  EXPECT_EQ(JudgeBottleneck(Measured(0.89, 0.1, 0.1)).verdict, "none");
  EXPECT_EQ(JudgeBottleneck(Measured(0.1, 0.949, 0.949)).verdict, "none");
  BottleneckInputs pinned = Measured(0.2, 0.97, 0.3);
  pinned.server_pinned = true;
  EXPECT_EQ(JudgeBottleneck(pinned).evidence,
            "link 20% of 10 Gbit/s, server cores 97%, generator 30%");
}

TEST(BottleneckTest, AnUnmeasuredLimitIsNeverCalledNone) {
  // Loopback reports no speed: a saturated CPU still shows, "none" does not.
  Bottleneck lo = JudgeBottleneck(Measured(std::nullopt, 0.3, 0.4));
  EXPECT_EQ(lo.verdict, "unknown");
  EXPECT_EQ(lo.evidence, "link not measured (no speed), server node 30%, generator 40%");
  EXPECT_EQ(JudgeBottleneck(Measured(std::nullopt, 0.3, 0.99)).verdict, "client-cpu");
  EXPECT_EQ(JudgeBottleneck(Measured(0.3, std::nullopt, 0.2)).verdict, "unknown");
}

TEST(BottleneckTest, CompareWarnsWhenModesHitDifferentLimits) {
  auto row = [](std::string mode, std::string bottleneck, bool baseline) {
    ComparisonRow r;
    r.workload = "redis";
    r.vm = "bare-metal";
    r.operation = "GET";
    r.mode = std::move(mode);
    r.bottleneck = std::move(bottleneck);
    r.is_baseline = baseline;
    return r;
  };
  std::vector<ComparisonRow> rows = {row("off", "link", true), row("lazy", "link", false),
                                     row("strict", "server-cpu", false)};
  std::vector<std::string> w = BottleneckWarnings(rows);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0],
            "redis GET: off was limited by link, strict by server-cpu: the change compares two "
            "different limits, not the IOMMU mode alone");
  rows[2].bottleneck = "link";
  EXPECT_TRUE(BottleneckWarnings(rows).empty());
}

}  // namespace
}  // namespace iommuvm::results
