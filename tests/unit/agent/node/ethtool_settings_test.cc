// ethtool -l/-g/-a/-k as both of ethtool's implementations print them.
#include "agent/node/ethtool_settings.h"

#include <gtest/gtest.h>

#include "tests/support/fixtures.h"

namespace iommuvm::agent {
namespace {

using testing::Fixture;

TEST(EthtoolSettingsTest, ChannelsNetlinkIoctlAndVeth) {
  EthtoolLimits mlx5 = ParseEthtoolLimits(Fixture("ethtool/mlx5-netlink-channels.txt"));
  EXPECT_EQ(mlx5.max, (std::map<std::string, uint32_t>{{"Combined", 63}, {"Other", 1}}));
  EXPECT_EQ(mlx5.current, (std::map<std::string, uint32_t>{{"Combined", 8}, {"Other", 1}}));
  // ethtool 5.4 prints 0 where netlink prints n/a: the same meaning.
  EthtoolLimits old = ParseEthtoolLimits(Fixture("ethtool/ioctl-5.4-channels.txt"));
  EXPECT_EQ(old.max, mlx5.max);
  EXPECT_EQ(old.current.at("Combined"), 63u);
  EXPECT_FALSE(old.current.count("RX"));
  EthtoolLimits veth = ParseEthtoolLimits(Fixture("ethtool/veth-channels.txt"));
  EXPECT_EQ(veth.max, (std::map<std::string, uint32_t>{{"RX", 2}, {"TX", 2}}));
  EXPECT_EQ(veth.current, (std::map<std::string, uint32_t>{{"RX", 1}, {"TX", 1}}));
}

TEST(EthtoolSettingsTest, RingsWithTheLinesNewerVersionsAdd) {
  EthtoolLimits mlx5 = ParseEthtoolLimits(Fixture("ethtool/mlx5-netlink-rings.txt"));
  EXPECT_EQ(mlx5.max, (std::map<std::string, uint32_t>{{"RX", 8192}, {"TX", 8192}}));
  EXPECT_EQ(mlx5.current, (std::map<std::string, uint32_t>{{"RX", 1024}, {"TX", 1024}}));
  EthtoolLimits old = ParseEthtoolLimits(Fixture("ethtool/ioctl-5.4-rings.txt"));
  EXPECT_EQ(old.current, mlx5.current);
}

TEST(EthtoolSettingsTest, PauseAndFeatures) {
  auto on = ParseEthtoolPause(Fixture("ethtool/mlx5-netlink-pause.txt"));
  EXPECT_TRUE(on.at("RX") && on.at("TX"));
  EXPECT_FALSE(on.at("Autonegotiate"));
  auto old = ParseEthtoolPause(Fixture("ethtool/ioctl-5.4-pause.txt"));
  EXPECT_FALSE(old.at("RX") || old.at("TX"));
  EXPECT_TRUE(old.count("RX negotiated"));
  auto f = ParseEthtoolFeatures(Fixture("ethtool/veth-features.txt"));
  EXPECT_TRUE(f.at(EthtoolFeatureName("tso")).on);
  EXPECT_FALSE(f.at(EthtoolFeatureName("gro")).on);
  EXPECT_FALSE(f.at(EthtoolFeatureName("lro")).on);
  EXPECT_TRUE(f.at(EthtoolFeatureName("lro")).fixed);
  EXPECT_FALSE(f.at("tx-checksum-ipv4").on);  // indented sub-features too
  EXPECT_EQ(EthtoolFeatureName("rss"), "");
}

}  // namespace
}  // namespace iommuvm::agent
