// ethtool -S output: which counters are kept.
#include "agent/telemetry/network_collector.h"

#include <gtest/gtest.h>

#include <map>

#include "agent/telemetry/collectors.h"
#include "agent/telemetry/interrupts_collector.h"
#include "agent/telemetry/iommu_pmu_collector.h"
#include "common/clock.h"
#include "common/file_system.h"
#include "tests/support/fake_command_runner.h"
#include "tests/support/sysroot_builder.h"

namespace iommuvm::agent {
namespace {

using ::iommuvm::testing::SysrootBuilder;

std::string ReadFixture(const std::string& name) {
  LocalFileSystem src(IOMMUVM_SOURCE_DIR "/tests/fixtures");
  auto text = src.ReadFile("/" + name);
  EXPECT_TRUE(text.ok()) << name;
  return text.ok() ? *text : "";
}

// `ethtool -S` as recorded from a virtio NIC: only the counters that
// explain lost performance are kept.
TEST(EthtoolTest, KeepsDropsErrorsAndTimeouts) {
  auto counters = NetworkCollector::ParseEthtool(ReadFixture("ethtool/virtio-eth0.txt"));
  EXPECT_TRUE(counters.count("rx_drops"));
  EXPECT_TRUE(counters.count("tx_tx_timeouts"));
  EXPECT_TRUE(counters.count("rx0_xdp_drops"));
  EXPECT_FALSE(counters.count("rx_kicks"));
  EXPECT_FALSE(counters.count("rx_xdp_packets"));
  EXPECT_TRUE(NetworkCollector::ParseEthtool(ReadFixture("ethtool/lo-no-stats.txt")).empty());
}

}  // namespace
}  // namespace iommuvm::agent
