#include "agent/telemetry/qemu_threads_collector.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/clock.h"

namespace iommuvm::agent {
namespace {

// A /proc/<pid>/stat line as Linux writes it (fs/proc/array.c), with
// utime and stime in fields 14 and 15.
std::string Stat(int pid, const std::string& comm, uint64_t utime, uint64_t stime) {
  return absl::StrCat(pid, " (", comm, ") S 1 ", pid, " ", pid, " 0 -1 4194560 100 0 0 0 ", utime,
                      " ", stime,
                      " 0 0 20 0 4 0 1234 1000000 200 18446744073709551615 0 0 0 0 0 0 0 0 0 0 "
                      "0 0 17 1 0 0 0 0 0\n");
}

class QemuThreadsCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / ("qemu_threads_" + std::to_string(::getpid()));
    std::filesystem::remove_all(root_);
    fs_ = std::make_unique<LocalFileSystem>(root_.string());
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void Thread(int tid, const std::string& comm, uint64_t utime, uint64_t stime) {
    ASSERT_TRUE(fs_->WriteFile(absl::StrCat("/proc/4242/task/", tid, "/stat"),
                               Stat(tid, comm, utime, stime))
                    .ok());
  }
  std::map<std::string, double> Collect(QemuThreadsCollector& c) {
    std::vector<v1::MetricSample> out;
    EXPECT_TRUE(c.Collect(clock_.Now(), &out).ok());
    std::map<std::string, double> by_name;
    for (const auto& s : out) by_name[s.name()] = s.value();
    return by_name;
  }
  std::filesystem::path root_;
  std::unique_ptr<LocalFileSystem> fs_;
  FakeClock clock_;
};

TEST_F(QemuThreadsCollectorTest, VcpuEmulatorAndVhostCoresOverTheInterval) {
  Thread(4242, "qemu-system-x86", 100, 50);
  Thread(4243, "CPU 0/KVM", 1000, 10);
  Thread(4244, "CPU 1/KVM", 1000, 10);
  Thread(4245, "vhost-4242", 0, 300);  // in-process vhost worker (kernel >= 6.4)
  // A vhost kernel thread of this QEMU (older kernels), and one of another.
  ASSERT_TRUE(fs_->WriteFile("/proc/77/comm", "vhost-4242\n").ok());
  ASSERT_TRUE(fs_->WriteFile("/proc/77/stat", Stat(77, "vhost-4242", 0, 100)).ok());
  ASSERT_TRUE(fs_->WriteFile("/proc/78/comm", "vhost-42420\n").ok());
  ASSERT_TRUE(fs_->WriteFile("/proc/78/stat", Stat(78, "vhost-42420", 0, 100)).ok());
  QemuThreadsCollector c(fs_.get(), 4242);
  EXPECT_TRUE(Collect(c).empty());  // baseline
  clock_.Advance(absl::Seconds(2));
  Thread(4242, "qemu-system-x86", 150, 50);                                           // +50 ticks
  Thread(4243, "CPU 0/KVM", 1190, 20);                                                // +200
  Thread(4244, "CPU 1/KVM", 1100, 10);                                                // +100
  Thread(4245, "vhost-4242", 0, 340);                                                 // +40
  ASSERT_TRUE(fs_->WriteFile("/proc/77/stat", Stat(77, "vhost-4242", 0, 160)).ok());  // +60
  ASSERT_TRUE(fs_->WriteFile("/proc/78/stat", Stat(78, "vhost-42420", 0, 900)).ok());
  auto got = Collect(c);
  EXPECT_DOUBLE_EQ(got["qemu_vcpu_cpu_cores"], 1.5);       // 300 ticks / 100 Hz / 2 s
  EXPECT_DOUBLE_EQ(got["qemu_emulator_cpu_cores"], 0.25);  // 50 ticks
  EXPECT_DOUBLE_EQ(got["vhost_cpu_cores"], 0.5);           // 40 + 60 ticks
  EXPECT_DOUBLE_EQ(got["qemu_cpu_cores"], 1.75);           // vCPUs and emulator
}

// A QEMU started without debug-threads=on calls every thread by its
// program name: only its total can be told.
TEST_F(QemuThreadsCollectorTest, UnnamedThreadsGiveTheTotalOnly) {
  Thread(4242, "qemu-system-x86", 100, 0);
  Thread(4243, "qemu-system-x86", 100, 0);
  QemuThreadsCollector c(fs_.get(), 4242);
  Collect(c);
  clock_.Advance(absl::Seconds(1));
  Thread(4243, "qemu-system-x86", 180, 0);
  auto got = Collect(c);
  EXPECT_DOUBLE_EQ(got["qemu_cpu_cores"], 0.8);
  EXPECT_EQ(got.count("qemu_vcpu_cpu_cores"), 0u);
  EXPECT_EQ(got.count("qemu_emulator_cpu_cores"), 0u);
}

TEST_F(QemuThreadsCollectorTest, TcgVcpusAndCommsWithParentheses) {
  auto t = QemuThreadsCollector::ParseStat(Stat(9, "CPU 0/TCG", 7, 3));
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->comm, "CPU 0/TCG");
  EXPECT_EQ(t->ticks, 10u);
  auto odd = QemuThreadsCollector::ParseStat(Stat(9, "a) (b", 1, 1));
  ASSERT_TRUE(odd.has_value());
  EXPECT_EQ(odd->comm, "a) (b");
  EXPECT_FALSE(QemuThreadsCollector::ParseStat("9 (x) S 1 2").has_value());
}

TEST_F(QemuThreadsCollectorTest, AnEndedQemuIsUnavailable) {
  QemuThreadsCollector c(fs_.get(), 4242);
  std::vector<v1::MetricSample> out;
  EXPECT_TRUE(absl::IsUnavailable(c.Collect(clock_.Now(), &out)));
}

}  // namespace
}  // namespace iommuvm::agent
