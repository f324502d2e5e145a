// The controller's live re-export of agent telemetry: labelled per agent,
// role and run, and gone when the attempt ends.
#include "controller/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace iommuvm {
namespace {

// family name -> label set (as "k=v,k=v") -> gauge value
std::map<std::string, std::map<std::string, double>> Gauges(const ControllerMetrics& m) {
  std::map<std::string, std::map<std::string, double>> out;
  for (const auto& family : m.registry()->Collect()) {
    for (const auto& metric : family.metric) {
      std::string labels;
      for (const auto& l : metric.label) labels += l.name + "=" + l.value + ",";
      out[family.name][labels] = metric.gauge.value;
    }
  }
  return out;
}

TEST(ControllerMetricsTest, LiveSamplesCarryTheRunAndVanishWithTheAttempt) {
  ControllerMetrics m;
  LiveRun run{7, 2, 3, "redis-get", "strict", "bare-metal"};
  v1::MetricSample cpu;
  cpu.set_name("node_cpu_utilization");
  cpu.set_value(0.42);
  v1::MetricSample irq;
  irq.set_name("node_interrupts_per_second");
  irq.set_value(1200);
  (*irq.mutable_labels())["irq"] = "45";
  (*irq.mutable_labels())["name"] = "mlx5_comp3@pci:0000:ca:00.0";
  m.SetLive(run, "server-1", "server", cpu);
  m.SetLive(run, "server-1", "server", irq);
  cpu.set_value(0.5);  // a newer sample replaces the value
  m.SetLive(run, "server-1", "server", cpu);

  auto g = Gauges(m);
  const std::string run_labels =
      "agent=server-1,experiment=2,iommu=strict,role=server,run=3,simulated=false,vm=bare-metal,"
      "workload=redis-get,";
  ASSERT_TRUE(g["iommuvm_live_node_cpu_utilization"].count(run_labels));
  EXPECT_DOUBLE_EQ(g["iommuvm_live_node_cpu_utilization"].at(run_labels), 0.5);
  EXPECT_EQ(g["iommuvm_live_node_cpu_utilization"].size(), 1u);
  const std::string irq_labels =
      "agent=server-1,experiment=2,iommu=strict,irq=45,name=mlx5_comp3@pci:0000:ca:00.0,"
      "role=server,run=3,simulated=false,vm=bare-metal,workload=redis-get,";
  ASSERT_TRUE(g["iommuvm_live_node_interrupts_per_second"].count(irq_labels));
  EXPECT_DOUBLE_EQ(g["iommuvm_live_node_interrupts_per_second"].at(irq_labels), 1200);
  // A simulated server's mode is marked in the label every panel shows.
  LiveRun sim{8, 2, 4, "redis-get", "strict", "bare-metal", true};
  m.SetLive(sim, "sim-server", "server", cpu);
  g = Gauges(m);
  EXPECT_TRUE(g["iommuvm_live_node_cpu_utilization"].count(
      "agent=sim-server,experiment=2,iommu=strict (simulated),role=server,run=4,simulated=true,"
      "vm=bare-metal,workload=redis-get,"));
  m.EndLive(8);

  m.EndLive(7);
  g = Gauges(m);
  EXPECT_TRUE(g["iommuvm_live_node_cpu_utilization"].empty());
  EXPECT_TRUE(g["iommuvm_live_node_interrupts_per_second"].empty());
  m.EndLive(7);  // twice is harmless
}

TEST(ControllerMetricsTest, LiveNamesAreValidPrometheusNames) {
  EXPECT_EQ(ControllerMetrics::LiveName("load_throughput_ops_per_second"),
            "iommuvm_live_load_throughput_ops_per_second");
  EXPECT_EQ(ControllerMetrics::LiveName("a.b-c d"), "iommuvm_live_a_b_c_d");
}

}  // namespace
}  // namespace iommuvm
