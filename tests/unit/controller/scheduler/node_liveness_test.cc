// One notion of a live agent for new work and for running attempts.
#include "controller/scheduler/node_liveness.h"

#include <gtest/gtest.h>

namespace iommuvm::scheduler {
namespace {

TEST(NodeLivenessTest, AFrozenAgentWithAnOpenStreamIsNotResponsive) {
  FakeClock clock;
  NodeLiveness live(&clock, absl::Seconds(15));
  live.Connected("srv");
  EXPECT_TRUE(live.Responsive("srv"));
  clock.Advance(absl::Seconds(10));
  live.HeardFrom("srv");
  clock.Advance(absl::Seconds(14));
  EXPECT_TRUE(live.Responsive("srv"));
  EXPECT_EQ(live.SilentFor("srv"), absl::Seconds(14));
  clock.Advance(absl::Seconds(2));  // 16 s without a word, stream still open
  EXPECT_TRUE(live.IsConnected("srv"));
  EXPECT_FALSE(live.Responsive("srv"));
  EXPECT_EQ(live.SilentFor("srv"), absl::Seconds(16));
}

TEST(NodeLivenessTest, SilenceCountsFromTheClosedStreamAndFromTheControllersStart) {
  FakeClock clock;
  NodeLiveness live(&clock, absl::Seconds(15));
  live.Known("old");  // in the database when the controller started
  live.Connected("srv");
  clock.Advance(absl::Seconds(5));
  live.Disconnected("srv");
  live.HeardFrom("srv");  // a late message does not reopen the session
  clock.Advance(absl::Seconds(3));
  EXPECT_FALSE(live.Responsive("srv"));
  EXPECT_EQ(live.SilentFor("srv"), absl::Seconds(3));
  EXPECT_EQ(live.SilentFor("old"), absl::Seconds(8));
  EXPECT_FALSE(live.IsConnected("old"));
  EXPECT_EQ(live.SilentFor("never-seen"), absl::InfiniteDuration());
  EXPECT_EQ(live.ConnectedCount(), 0);
  live.Connected("srv");
  EXPECT_EQ(live.ConnectedCount(), 1);
}

}  // namespace
}  // namespace iommuvm::scheduler
