
#include "agent/telemetry/cpu_collector.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/cpu_list.h"

namespace iommuvm::agent {
namespace {

class CpuCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / ("cpu_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(root_);
    fs_ = std::make_unique<LocalFileSystem>(root_.string());
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void WriteStat(const std::string& cpu_line) {
    ASSERT_TRUE(fs_->WriteFile("/proc/stat", cpu_line + "\ncpu0 1 2 3 4\nintr 5\n").ok());
  }
  std::filesystem::path root_;
  std::unique_ptr<LocalFileSystem> fs_;
  FakeClock clock_;
};

TEST_F(CpuCollectorTest, UtilisationOverTheInterval) {
  CpuCollector c(fs_.get());
  std::vector<v1::MetricSample> out;
  WriteStat("cpu  100 0 100 800 0 0 0 0 0 0");
  ASSERT_TRUE(c.Collect(clock_.Now(), &out).ok());
  EXPECT_TRUE(out.empty());  // baseline only
  // +300 busy (user 200, system 50, softirq 50), +100 idle, +100 iowait.
  WriteStat("cpu  300 0 150 900 100 0 50 0 0 0");
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(c.Collect(clock_.Now(), &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name(), "node_cpu_utilization");
  EXPECT_DOUBLE_EQ(out[0].value(), 300.0 / 500.0);
  EXPECT_EQ(out[0].timestamp_ms(), absl::ToUnixMillis(clock_.Now()));
}

// 2 of 8 CPUs busy: the node's mean says 25%, the pinned cores 100%; cpu2
// in user space, cpu3 half user, a quarter system, a quarter softirq.
TEST_F(CpuCollectorTest, ThePinnedCoresOfTheServerOnTheirOwn) {
  // Counters after `seconds` seconds of 100 jiffies per CPU, CPUs 2 and 3
  // busy the whole time, the other six idle.
  auto stat = [&](int seconds) {
    int j = 100 * seconds;
    std::string s = absl::StrCat("cpu  ", 2 * j, " 0 0 ", 6 * j, " 0 0 0 0 0 0\n");
    for (int cpu = 0; cpu < 8; ++cpu) {
      bool pinned = cpu == 2 || cpu == 3;
      if (cpu == 3) {
        // user nice system idle iowait irq softirq
        absl::StrAppend(&s, "cpu3 ", j / 2, " 0 ", j / 4, " 0 0 0 ", j / 4, " 0 0 0\n");
        continue;
      }
      absl::StrAppend(&s, "cpu", cpu, " ", pinned ? j : 0, " 0 0 ", pinned ? 0 : j,
                      " 0 0 0 0 0 0\n");
    }
    ASSERT_TRUE(fs_->WriteFile("/proc/stat", s + "intr 5\n").ok());
  };
  CpuCollector c(fs_.get(), "2-3");
  std::vector<v1::MetricSample> out;
  stat(1);
  ASSERT_TRUE(c.Collect(clock_.Now(), &out).ok());
  stat(2);
  ASSERT_TRUE(c.Collect(clock_.Now(), &out).ok());
  ASSERT_EQ(out.size(), 2u + 3u + 2 * 3u);
  EXPECT_EQ(out[0].name(), "node_cpu_utilization");
  EXPECT_DOUBLE_EQ(out[0].value(), 0.25);
  EXPECT_EQ(out[1].name(), "server_cores_cpu_utilization");
  EXPECT_DOUBLE_EQ(out[1].value(), 1.0);
  std::map<std::string, double> by;
  for (const auto& s : out) {
    std::string key = s.name();
    for (const auto& [k, v] :
         std::map<std::string, std::string>(s.labels().begin(), s.labels().end())) {
      key += "," + k + "=" + v;
    }
    by[key] = s.value();
  }
  EXPECT_DOUBLE_EQ(by.at("server_cores_cpu_user"), 0.75);
  EXPECT_DOUBLE_EQ(by.at("server_cores_cpu_system"), 0.125);
  EXPECT_DOUBLE_EQ(by.at("server_cores_cpu_softirq"), 0.125);
  EXPECT_DOUBLE_EQ(by.at("server_core_cpu,cpu=2,mode=user"), 1.0);
  EXPECT_DOUBLE_EQ(by.at("server_core_cpu,cpu=3,mode=softirq"), 0.25);
  EXPECT_DOUBLE_EQ(by.at("server_core_cpu,cpu=3,mode=system"), 0.25);
  EXPECT_EQ(*ParseCpuList("0-3,8,10-11"), (std::set<int>{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_FALSE(ParseCpuList("3-1").ok());
}

TEST_F(CpuCollectorTest, CountersGoingBackwardsProduceNoSample) {
  CpuCollector c(fs_.get());
  std::vector<v1::MetricSample> out;
  WriteStat("cpu  300 0 150 900 100 0 50 0 0 0");
  ASSERT_TRUE(c.Collect(clock_.Now(), &out).ok());
  WriteStat("cpu  10 0 10 10 0 0 0 0 0 0");  // e.g. CPUs went offline
  ASSERT_TRUE(c.Collect(clock_.Now(), &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST_F(CpuCollectorTest, MissingOrBrokenFileIsAnError) {
  CpuCollector c(fs_.get());
  std::vector<v1::MetricSample> out;
  EXPECT_EQ(c.Collect(clock_.Now(), &out).code(), absl::StatusCode::kNotFound);
  WriteStat("intr 1");
  EXPECT_EQ(c.Collect(clock_.Now(), &out).code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace iommuvm::agent
