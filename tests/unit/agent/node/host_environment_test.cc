// The node's environment against a sysfs/procfs fixture tree and a fake
// ethtool/ip/systemctl: every knob set is read back; a value that did not
// stick fails naming the knob, unless best_effort records it as not held.
#include "agent/node/host_environment.h"

#include <gtest/gtest.h>

#include <set>

#include "common/file_system.h"
#include "tests/support/fake_command_runner.h"
#include "tests/support/fixtures.h"
#include "tests/support/forwarding_file_system.h"
#include "tests/support/sysroot_builder.h"

namespace iommuvm::agent {
namespace {

// A sysfs whose writes to some files are ignored, as the kernel ignores a
// governor no driver offers, or a C-state firmware keeps enabled.
class StubbornFileSystem final : public testing::ForwardingFileSystem {
 public:
  using ForwardingFileSystem::ForwardingFileSystem;
  std::set<std::string> ignored;
  absl::Status WriteFile(const std::string& p, const std::string& c) override {
    return ignored.count(p) ? absl::OkStatus() : fs_.WriteFile(p, c);
  }
};

// Two NUMA nodes of 4 CPUs, intel_pstate, SMT control, three idle states;
// the data NIC eth1 on node 1 with four queue IRQs named as mlx5 names them.
class HostEnvironmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_.File("/sys/devices/system/cpu/online", "0-7\n")
        .File("/sys/devices/system/cpu/intel_pstate/no_turbo", "0\n")
        .File("/sys/devices/system/cpu/smt/control", "on\n")
        .File("/sys/devices/system/node/node0/cpulist", "0-3\n")
        .File("/sys/devices/system/node/node1/cpulist", "4-7\n")
        .File("/proc/sys/kernel/osrelease", "6.8.0-45-generic\n")
        .Nic("eth1", "0000:ca:00.0")
        .File("/sys/class/net/eth1/mtu", "1500\n")
        .File("/sys/devices/pci0000:00/0000:ca:00.0/numa_node", "1\n");
    for (int cpu = 0; cpu < 8; ++cpu) {
      std::string c = "/sys/devices/system/cpu/cpu" + std::to_string(cpu);
      root_.File(c + "/cpufreq/scaling_governor", "powersave\n");
      const char* names[] = {"POLL", "C1", "C6"};
      for (int k = 0; k < 3; ++k) {
        std::string s = c + "/cpuidle/state" + std::to_string(k);
        root_.File(s + "/name", std::string(names[k]) + "\n").File(s + "/disable", "0\n");
      }
    }
    std::string interrupts =
        "           CPU0       CPU1\n  0:         12          0   IO-APIC    2-edge      timer\n";
    for (int q = 0; q < 4; ++q) {
      int irq = 100 + q;
      interrupts += "" + std::to_string(irq) + ":  5  6  IR-PCI-MSIX-0000:ca:00.0 " +
                    std::to_string(q) + "-edge  mlx5_comp" + std::to_string(q) +
                    "@pci:0000:ca:00.0\n";
      root_.File("/proc/irq/" + std::to_string(irq) + "/smp_affinity_list", "0-7\n");
    }
    root_.File("/proc/interrupts", interrupts);
    runner_.installed = {"ethtool", "ip", "systemctl"};
    runner_.Answer("ethtool -l eth1", testing::Fixture("ethtool/mlx5-netlink-channels.txt"));
    runner_.Answer("ethtool -g eth1", testing::Fixture("ethtool/mlx5-netlink-rings.txt"));
    runner_.Answer("ethtool -a eth1", testing::Fixture("ethtool/mlx5-netlink-pause.txt"));
    runner_.Answer("ethtool -k eth1", testing::Fixture("ethtool/veth-features.txt"));
    runner_.Answer("systemctl is-active irqbalance", "active\n");
    // `ip link set mtu` changes what sysfs reads, as the kernel does.
    runner_.on_run = [this](const CommandSpec& spec) {
      if (spec.argv.size() == 7 && spec.argv[0] == "ip" && spec.argv[5] == "mtu") {
        (void)fs_.WriteFile("/sys/class/net/eth1/mtu", spec.argv[6] + "\n");
      }
      if (spec.argv.size() == 3 && spec.argv[0] == "systemctl" && spec.argv[1] == "stop") {
        runner_.Answer("systemctl is-active irqbalance", "inactive\n");
      }
    };
  }
  testing::SysrootBuilder root_;
  StubbornFileSystem fs_{root_.root()};
  testing::FakeCommandRunner runner_;
};

TEST_F(HostEnvironmentTest, SnapshotReadsEveryKnob) {
  HostEnvironment env(&fs_, &runner_);
  auto s = env.Snapshot("eth1");
  EXPECT_EQ(s.at("kernel"), "6.8.0-45-generic");
  EXPECT_EQ(s.at("governor"), "powersave");
  EXPECT_EQ(s.at("turbo"), "on");
  EXPECT_EQ(s.at("smt"), "on");
  EXPECT_EQ(s.at("cstates"), "enabled: POLL,C1,C6");
  EXPECT_EQ(s.at("irqbalance"), "active");
  EXPECT_EQ(s.at("nic.mtu"), "1500");
  EXPECT_EQ(s.at("nic.channels"), "combined 8 other 1");
  EXPECT_EQ(s.at("nic.rings"), "rx 1024 tx 1024");
  EXPECT_EQ(s.at("nic.pause"), "rx on tx on");
  EXPECT_EQ(s.at("nic.tso"), "on");
  EXPECT_EQ(s.at("nic.lro"), "off (fixed)");
  EXPECT_EQ(s.at("nic.irqs"), "4 IRQs on 0-7 0-7 0-7 0-7");
}

TEST_F(HostEnvironmentTest, AppliesAndReadsBackEachKnob) {
  HostEnvironment env(&fs_, &runner_);
  v1::HostSettings s;
  s.set_governor("performance");
  s.set_turbo(false);
  s.set_cstate_max(1);
  s.set_irqbalance(false);
  s.set_mtu(4000);
  s.set_irq_affinity("auto");
  // The server runs on 4-5: the queues go to the rest of the NIC's node.
  auto applied = env.Apply(s, "eth1", "4-5");
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->env.at("governor"), "performance");
  EXPECT_EQ(applied->env.at("turbo"), "off");
  EXPECT_EQ(applied->env.at("cstates"), "enabled: POLL,C1");
  EXPECT_EQ(applied->env.at("irqbalance"), "inactive");
  EXPECT_EQ(applied->env.at("nic.mtu"), "4000");
  EXPECT_EQ(applied->env.at("nic.irqs"), "4 IRQs on 6 7 6 7");
  EXPECT_TRUE(applied->not_held.empty());
  EXPECT_EQ(ReadTrimmed(fs_, "/sys/devices/system/cpu/cpu7/cpuidle/state2/disable"), "1");
  EXPECT_EQ(ReadTrimmed(fs_, "/sys/devices/system/cpu/intel_pstate/no_turbo"), "1");
  EXPECT_NE(std::find(runner_.ran.begin(), runner_.ran.end(), "ip link set dev eth1 mtu 4000"),
            runner_.ran.end());
  // An explicit list, round robin.
  s.set_irq_affinity("0,2");
  ASSERT_TRUE(env.Apply(s, "eth1", "").ok());
  EXPECT_EQ(env.Snapshot("eth1").at("nic.irqs"), "4 IRQs on 0 2 0 2");
}

TEST_F(HostEnvironmentTest, AValueThatDidNotStickFailsNamingTheKnob) {
  fs_.ignored = {"/sys/devices/system/cpu/cpu3/cpufreq/scaling_governor",
                 "/sys/devices/system/cpu/smt/control"};
  HostEnvironment env(&fs_, &runner_);
  v1::HostSettings s;
  s.set_governor("performance");
  s.set_smt(false);
  s.set_rx_ring(4096);  // the fake ethtool -G changes nothing
  auto applied = env.Apply(s, "eth1", "");
  ASSERT_TRUE(absl::IsFailedPrecondition(applied.status())) << applied.status();
  std::string m(applied.status().message());
  EXPECT_NE(m.find("governor: asked performance, reads performance on 7 CPUs, powersave on 1 "
                   "CPUs"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("smt: asked off, reads on"), std::string::npos) << m;
  EXPECT_NE(m.find("nic.rings: asked rx 4096 tx -, reads rx 1024 tx 1024"), std::string::npos) << m;
  EXPECT_NE(m.find("host.best_effort: true"), std::string::npos) << m;
  // Best effort: the run goes on, and says what did not hold.
  s.set_best_effort(true);
  auto recorded = env.Apply(s, "eth1", "");
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  ASSERT_EQ(recorded->not_held.size(), 3u);
  EXPECT_EQ(recorded->not_held[1], "smt: asked off, reads on");
}

TEST_F(HostEnvironmentTest, WhatTheNodeLacksIsSaidPlainly) {
  testing::SysrootBuilder bare;
  bare.File("/sys/devices/system/cpu/online", "0-1\n");
  LocalFileSystem fs(bare.root());
  testing::FakeCommandRunner runner;  // no ethtool, no systemctl
  HostEnvironment env(&fs, &runner);
  auto s = env.Snapshot("");
  EXPECT_EQ(s.at("governor"), "unsupported (no cpufreq driver)");
  EXPECT_EQ(s.at("smt"), "unsupported (no smt/control)");
  EXPECT_EQ(s.at("irqbalance"), "unknown (no systemctl)");
  EXPECT_FALSE(s.count("nic.mtu"));
  v1::HostSettings want;
  want.set_governor("performance");
  want.set_mtu(9000);
  auto applied = env.Apply(want, "", "");
  ASSERT_FALSE(applied.ok());
  std::string m(applied.status().message());
  EXPECT_NE(m.find("governor: asked performance, reads unsupported (no cpufreq driver) "
                   "(/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor does not exist: no "
                   "cpufreq driver)"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("nic: no data NIC"), std::string::npos) << m;
}

}  // namespace
}  // namespace iommuvm::agent
