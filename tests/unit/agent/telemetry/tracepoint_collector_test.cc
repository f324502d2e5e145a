// The tracepoint collectors on a fixture tracefs: one counter per online
// CPU and tracepoint the kernel has, summed into rates.
#include "agent/telemetry/tracepoint_collector.h"

#include <gtest/gtest.h>
#include <linux/perf_event.h>

#include "common/clock.h"
#include "common/file_system.h"
#include "tests/support/sysroot_builder.h"
#include "tests/unit/agent/telemetry/fake_perf.h"

namespace iommuvm::agent {
namespace {

using ::iommuvm::testing::SysrootBuilder;

class IommuTraceCollectorTest : public ::testing::Test {
 protected:
  SysrootBuilder b_;
  LocalFileSystem fs_{b_.root()};
  FakeClock clock_{absl::FromUnixSeconds(1000)};
  FakePerf perf_;
};

TEST_F(IommuTraceCollectorTest, CountsEachTracepointOnEveryOnlineCpu) {
  b_.File("/sys/devices/system/cpu/online", "0-1\n")
      .File("/sys/kernel/tracing/events/iommu/map/id", "1101\n")
      .File("/sys/kernel/tracing/events/iommu/unmap/id", "1102\n")
      .File("/sys/kernel/tracing/events/intel_iommu/qi_submit/id", "1201\n");
  IommuTraceCollector c(&fs_, &perf_);
  std::vector<v1::MetricSample> out;
  ASSERT_TRUE(c.Collect(clock_.Now(), &out).ok());
  // 3 tracepoints (no io_page_fault here) x 2 CPUs, counting tracepoints.
  ASSERT_EQ(perf_.opened.size(), 6u);
  EXPECT_EQ(perf_.opened[0].first.type, static_cast<uint32_t>(PERF_TYPE_TRACEPOINT));
  EXPECT_EQ(perf_.opened[0].first.config, 1101u);
  EXPECT_EQ(perf_.opened[1].second, 1);
  EXPECT_EQ(perf_.opened[4].first.config, 1201u);
  // 2 s later: maps 300+100 on the two CPUs, unmaps 200, invalidations 50.
  perf_.values = {{0, 300}, {1, 100}, {2, 200}, {3, 0}, {4, 30}, {5, 20}};
  clock_.Advance(absl::Seconds(2));
  out.clear();
  ASSERT_TRUE(c.Collect(clock_.Now(), &out).ok());
  std::map<std::string, double> rate;
  for (const auto& s : out) rate[s.name()] = s.value();
  EXPECT_DOUBLE_EQ(rate["iommu_maps_per_second"], 200);
  EXPECT_DOUBLE_EQ(rate["iommu_unmaps_per_second"], 100);
  EXPECT_DOUBLE_EQ(rate["iommu_invalidations_per_second"], 25);
  EXPECT_EQ(rate.count("iommu_faults_per_second"), 0u);
}

TEST_F(IommuTraceCollectorTest, WithoutTracefsItSaysHowToGetIt) {
  b_.File("/sys/devices/system/cpu/online", "0\n");
  IommuTraceCollector c(&fs_, &perf_);
  std::vector<v1::MetricSample> out;
  absl::Status s = c.Collect(clock_.Now(), &out);
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_NE(s.message().find("mount -t tracefs"), std::string::npos) << s;
}

// The host's VM exits under KVM, from the debugfs mount older setups have.
TEST_F(IommuTraceCollectorTest, KvmExitsAreCountedWhereTheKvmModuleIs) {
  b_.File("/sys/devices/system/cpu/online", "0\n")
      .File("/sys/kernel/debug/tracing/events/kvm/kvm_exit/id", "2001\n")
      .File("/sys/kernel/debug/tracing/events/kvm/kvm_userspace_exit/id", "2002\n")
      .File("/sys/kernel/debug/tracing/events/kvm/kvm_mmio/id", "2003\n");
  KvmExitCollector c(&fs_, &perf_);
  EXPECT_EQ(c.name(), "kvm_exits");
  std::vector<v1::MetricSample> out;
  ASSERT_TRUE(c.Collect(clock_.Now(), &out).ok());
  ASSERT_EQ(perf_.opened.size(), 3u);
  EXPECT_EQ(perf_.opened[0].first.config, 2001u);
  perf_.values = {{0, 5000}, {1, 800}, {2, 600}};
  clock_.Advance(absl::Seconds(1));
  out.clear();
  ASSERT_TRUE(c.Collect(clock_.Now(), &out).ok());
  std::map<std::string, double> rate;
  for (const auto& s : out) rate[s.name()] = s.value();
  EXPECT_DOUBLE_EQ(rate["vm_exits_per_second"], 5000);
  EXPECT_DOUBLE_EQ(rate["vm_userspace_exits_per_second"], 800);
  EXPECT_DOUBLE_EQ(rate["vm_mmio_per_second"], 600);
  // Without the kvm module: unavailable, saying so.
  SysrootBuilder bare;
  bare.File("/sys/devices/system/cpu/online", "0\n");
  LocalFileSystem fs(bare.root());
  KvmExitCollector none(&fs, &perf_);
  absl::Status s = none.Collect(clock_.Now(), &out);
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_NE(s.message().find("kvm module"), std::string::npos) << s;
}

}  // namespace
}  // namespace iommuvm::agent
