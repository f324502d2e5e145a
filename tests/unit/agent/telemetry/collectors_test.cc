// Telemetry collectors on fixture /proc and /sys trees: rates over the
// interval, 32-bit counter wrap, CPU hotplug, interface resets, and the
// IOMMU PMU collector's event encoding and unavailability.
#include "agent/telemetry/collectors.h"

#include <gtest/gtest.h>

#include <map>

#include "agent/telemetry/interrupts_collector.h"
#include "agent/telemetry/iommu_pmu_collector.h"
#include "agent/telemetry/memory_collector.h"
#include "agent/telemetry/network_collector.h"
#include "common/clock.h"
#include "common/file_system.h"
#include "tests/support/fake_command_runner.h"
#include "tests/unit/agent/telemetry/fake_perf.h"
#include "tests/support/sysroot_builder.h"

namespace iommuvm::agent {
namespace {

using ::iommuvm::testing::SysrootBuilder;

// name{label=value,...} -> value, for easy assertions.
std::map<std::string, double> ByKey(const std::vector<v1::MetricSample>& samples) {
  std::map<std::string, double> out;
  for (const auto& s : samples) {
    std::string key = s.name();
    std::map<std::string, std::string> labels(s.labels().begin(), s.labels().end());
    for (const auto& [k, v] : labels) key += "|" + k + "=" + v;
    out[key] = s.value();
  }
  return out;
}

class CollectorsTest : public ::testing::Test {
 protected:
  // Writes `path`, then collects once after one second.
  std::vector<v1::MetricSample> Next(Collector& c, const std::string& path,
                                     const std::string& text) {
    b_.File(path, text);
    clock_.Advance(absl::Seconds(2));
    std::vector<v1::MetricSample> out;
    absl::Status s = c.Collect(clock_.Now(), &out);
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }
  SysrootBuilder b_;
  LocalFileSystem fs_{b_.root()};
  FakeClock clock_;
};

TEST_F(CollectorsTest, InterruptsPerIrqWithQueueNamesWrapAndHotplug) {
  InterruptsCollector c(&fs_);
  EXPECT_TRUE(Next(c, "/proc/interrupts",
                   "           CPU0       CPU1       \n"
                   " 24:        100 4294967000  PCI-MSIX-0000:ca:00.0   0-edge      "
                   "mlx5_comp0@pci:0000:ca:00.0\n"
                   " 25:          0          0  PCI-MSIX-0000:ca:00.0   1-edge      "
                   "mlx5_comp1@pci:0000:ca:00.0\n"
                   "NMI:          1          2   Non-maskable interrupts\n")
                  .empty());  // baseline
  // CPU1 went offline, CPU2 came online: only CPU0's change counts for
  // irq 24 this time; then CPU1 returns and its counter had wrapped.
  auto first = ByKey(Next(c, "/proc/interrupts",
                          "           CPU0       CPU2       \n"
                          " 24:        300          7  PCI-MSIX-0000:ca:00.0   0-edge      "
                          "mlx5_comp0@pci:0000:ca:00.0\n"
                          " 25:          0          0  PCI-MSIX-0000:ca:00.0   1-edge      "
                          "mlx5_comp1@pci:0000:ca:00.0\n"
                          "NMI:          1          2   Non-maskable interrupts\n"));
  EXPECT_DOUBLE_EQ(first["node_interrupts_per_second|irq=24|name=mlx5_comp0@pci:0000:ca:00.0"],
                   100);
  EXPECT_EQ(first.count("node_interrupts_per_second|irq=25|name=mlx5_comp1@pci:0000:ca:00.0"), 0u);
  EXPECT_DOUBLE_EQ(first["node_interrupts_total_per_second"], 100);
  auto second = ByKey(Next(c, "/proc/interrupts",
                           "           CPU0       CPU1       CPU2       \n"
                           " 24:        300        200          7  PCI-MSIX-0000:ca:00.0   0-edge  "
                           "    mlx5_comp0@pci:0000:ca:00.0\n"
                           "NMI:          1          2          2   Non-maskable interrupts\n"));
  // CPU1 has no baseline from the previous reading: nothing counted yet.
  ASSERT_EQ(second.count("node_interrupts_total_per_second"), 1u);
  EXPECT_DOUBLE_EQ(second["node_interrupts_total_per_second"], 0);
  auto third = ByKey(Next(c, "/proc/interrupts",
                          "           CPU0       CPU1       CPU2       \n"
                          " 24:        300        100          7  PCI-MSIX-0000:ca:00.0   0-edge   "
                          "   mlx5_comp0@pci:0000:ca:00.0\n"
                          "NMI:          5          2          2   Non-maskable interrupts\n"));
  // 200 -> 100 on a 32-bit counter: it wrapped, 2^32 - 100 events.
  EXPECT_DOUBLE_EQ(third["node_interrupts_per_second|irq=24|name=mlx5_comp0@pci:0000:ca:00.0"],
                   (4294967296.0 - 100) / 2);
  EXPECT_DOUBLE_EQ(third["node_interrupts_per_second|irq=NMI|name=Non-maskable interrupts"], 2);
}

TEST_F(CollectorsTest, SoftirqsNetRxAndTx) {
  SoftirqsCollector c(&fs_);
  Next(c, "/proc/softirqs",
       "                    CPU0       CPU1       \n"
       "      NET_TX:          4          0\n      NET_RX:        100        200\n");
  auto r =
      ByKey(Next(c, "/proc/softirqs",
                 "                    CPU0       CPU1       \n"
                 "      NET_TX:          8          0\n      NET_RX:        300        400\n"));
  EXPECT_DOUBLE_EQ(r["node_softirqs_per_second|type=NET_RX"], 200);
  EXPECT_DOUBLE_EQ(r["node_softirqs_per_second|type=NET_TX"], 2);
}

TEST_F(CollectorsTest, NetworkRatesWrapAndReset) {
  const char* kHeader =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
      "drop fifo colls carrier compressed\n";
  NetworkCollector c(&fs_);
  Next(c, "/proc/net/dev",
       std::string(kHeader) +
           "  eth2: 1000 10 0 1 0 0 0 0 4294967000 20 0 0 0 0 0 0\n"
           "    lo: 50000000000 5 0 0 0 0 0 0 50000000000 5 0 0 0 0 0 0\n");
  auto r = ByKey(Next(c, "/proc/net/dev",
                      std::string(kHeader) + "  eth2: 3000 30 0 3 0 0 0 0 704 40 0 0 0 0 0 0\n"
                                             "    lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n"));
  EXPECT_DOUBLE_EQ(r["node_network_receive_bytes_per_second|device=eth2"], 1000);
  EXPECT_DOUBLE_EQ(r["node_network_receive_packets_per_second|device=eth2"], 10);
  EXPECT_DOUBLE_EQ(r["node_network_receive_drops_per_second|device=eth2"], 1);
  // tx bytes 4294967000 -> 704 on a 32-bit counter: 1000 bytes.
  EXPECT_DOUBLE_EQ(r["node_network_transmit_bytes_per_second|device=eth2"], 500);
  EXPECT_DOUBLE_EQ(r["node_network_transmit_packets_per_second|device=eth2"], 10);
  // lo went from 5e10 to 100: a reset, counted from zero.
  EXPECT_DOUBLE_EQ(r["node_network_receive_bytes_per_second|device=lo"], 50);
  EXPECT_DOUBLE_EQ(r["node_network_packets_per_second"], 10 + 10 + 0.5 + 0.5);
}

TEST_F(CollectorsTest, NicCountersThatChangedFromEthtool) {
  b_.Device("0000:ca:00.0", "mlx5_core", "14", "DMA")
      .Nic("enp202s0f0np0", "0000:ca:00.0")
      .Nic("lo", "");
  const char* dev = "Inter-|\n face |\n  enp202s0f0np0: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n";
  testing::FakeCommandRunner runner;
  runner.installed = {"ethtool"};
  runner.Answer("ethtool -S enp202s0f0np0",
                "NIC statistics:\n     rx_out_of_buffer: 10\n     rx_discards_phy: 5\n"
                "     rx_packets: 100\n");
  NetworkCollector c(&fs_, &runner);
  Next(c, "/proc/net/dev", dev);
  runner.Answer("ethtool -S enp202s0f0np0",
                "NIC statistics:\n     rx_out_of_buffer: 30\n     rx_discards_phy: 5\n"
                "     rx_packets: 900\n");
  auto r = ByKey(Next(c, "/proc/net/dev", dev));
  EXPECT_DOUBLE_EQ(r["node_nic_counter_per_second|counter=rx_out_of_buffer|device=enp202s0f0np0"],
                   10);
  EXPECT_EQ(r.count("node_nic_counter_per_second|counter=rx_discards_phy|device=enp202s0f0np0"),
            0u);  // unchanged
  EXPECT_EQ(runner.ran, (std::vector<std::string>{"ethtool -S enp202s0f0np0",
                                                  "ethtool -S enp202s0f0np0"}));  // not lo
}

TEST_F(CollectorsTest, Memory) {
  MemoryCollector c(&fs_);
  auto r = ByKey(
      Next(c, "/proc/meminfo", "MemTotal:  1000 kB\nMemFree: 100 kB\nMemAvailable:  400 kB\n"));
  EXPECT_DOUBLE_EQ(r["node_memory_used_bytes"], 600 * 1024);
  EXPECT_DOUBLE_EQ(r["node_memory_available_bytes"], 400 * 1024);
}

// An AMD IOMMU PMU as the kernel describes it in sysfs.
TEST_F(CollectorsTest, IommuPmuEncodesEventsFromSysfsAndCounts) {
  const std::string dir = "/sys/bus/event_source/devices/amd_iommu_0";
  b_.File(dir + "/type", "11\n")
      .File(dir + "/cpumask", "0\n")
      .File(dir + "/format/csource", "config:0-7\n")
      .File(dir + "/format/devid", "config:8-23\n")
      .File(dir + "/events/mem_iommu_tlb_pte_hit", "csource=0x07\n")
      .File(dir + "/events/mem_iommu_tlb_pte_mis", "csource=0x08,devid=0x10\n");
  auto attr = EncodeEvent(fs_, dir, "mem_iommu_tlb_pte_mis");
  ASSERT_TRUE(attr.ok()) << attr.status();
  EXPECT_EQ(attr->type, 11u);
  EXPECT_EQ(attr->config, 0x08u | (0x10u << 8));
  FakePerf perf;
  IommuPmuCollector c(&fs_, &perf);
  std::vector<v1::MetricSample> out;
  ASSERT_TRUE(c.Collect(clock_.Now(), &out).ok());
  ASSERT_EQ(perf.opened.size(), 2u);
  EXPECT_EQ(perf.opened[0].first.config, 0x07u);
  perf.values = {{0, 1000}, {1, 50}};
  clock_.Advance(absl::Seconds(2));
  ASSERT_TRUE(c.Collect(clock_.Now(), &out).ok());
  auto r = ByKey(out);
  EXPECT_DOUBLE_EQ(r["iommu_pmu_events_per_second|event=mem_iommu_tlb_pte_hit|pmu=amd_iommu_0"],
                   500);
  EXPECT_DOUBLE_EQ(r["iommu_pmu_events_per_second|event=mem_iommu_tlb_pte_mis|pmu=amd_iommu_0"],
                   25);
}

TEST_F(CollectorsTest, IommuPmuAbsentIsUnavailableNotEmpty) {
  FakePerf perf;
  IommuPmuCollector c(&fs_, &perf);
  std::vector<v1::MetricSample> out;
  absl::Status s = c.Collect(clock_.Now(), &out);
  EXPECT_EQ(s.message(), "no amd_iommu_* or uncore_iio_* PMU in /sys/bus/event_source/devices");
}

// On this machine, live: every collector but the PMU and tracepoint ones
// (hardware and tracefs this machine may lack) works.
TEST(LiveCollectorsTest, ReadTheRealProc) {
  LocalFileSystem fs("/");
  auto perf = MakeLinuxPerfCounters();
  auto collectors = MakeCollectors({}, &fs, perf.get());
  ASSERT_EQ(collectors.size(), 7u);
  RealClock clock;
  std::vector<v1::MetricSample> out;
  for (auto& c : collectors) (void)c->Collect(clock.Now(), &out);
  absl::SleepFor(absl::Milliseconds(200));
  for (auto& c : collectors) {
    absl::Status s = c->Collect(clock.Now(), &out);
    if (c->name() != "iommu_pmu" && c->name() != "iommu_trace") {
      EXPECT_TRUE(s.ok()) << c->name() << ": " << s;
    }
  }
  auto r = ByKey(out);
  // A missing key would read 0 through operator[]: check presence first.
  ASSERT_TRUE(r.count("node_interrupts_total_per_second"));
  EXPECT_GE(r.at("node_interrupts_total_per_second"), 0);
  ASSERT_TRUE(r.count("node_memory_available_bytes"));
  EXPECT_GT(r.at("node_memory_available_bytes"), 0);
  EXPECT_TRUE(r.count("node_network_packets_per_second"));
}

}  // namespace
}  // namespace iommuvm::agent
