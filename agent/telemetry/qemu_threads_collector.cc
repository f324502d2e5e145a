#include "agent/telemetry/qemu_threads_collector.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace iommuvm::agent {
namespace {

// /proc reports times in USER_HZ, 100 on every Linux ABI iommuvm runs on
// (sysconf(_SC_CLK_TCK)).
constexpr double kTicksPerSecond = 100.0;

std::string ClassOf(const std::string& comm, const std::string& vhost_name) {
  if (comm == vhost_name) return "vhost";
  if (absl::StartsWith(comm, "CPU ") &&
      (absl::EndsWith(comm, "/KVM") || absl::EndsWith(comm, "/TCG"))) {
    return "vcpu";
  }
  return "emulator";
}

}  // namespace

std::optional<QemuThreadsCollector::ThreadTime> QemuThreadsCollector::ParseStat(
    absl::string_view line) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
  // it ends at the last ')'. utime and stime are fields 14 and 15.
  size_t open = line.find('('), close = line.rfind(')');
  if (open == absl::string_view::npos || close == absl::string_view::npos || close < open) {
    return std::nullopt;
  }
  std::vector<absl::string_view> rest =
      absl::StrSplit(line.substr(close + 1), ' ', absl::SkipEmpty());
  // rest[0] is field 3 (state): utime is rest[11], stime rest[12].
  uint64_t utime = 0, stime = 0;
  if (rest.size() < 13 || !absl::SimpleAtoi(rest[11], &utime) ||
      !absl::SimpleAtoi(rest[12], &stime)) {
    return std::nullopt;
  }
  return ThreadTime{std::string(line.substr(open + 1, close - open - 1)), utime + stime};
}

absl::StatusOr<std::map<std::string, uint64_t>> QemuThreadsCollector::Read(bool* named) const {
  std::string vhost_name = absl::StrCat("vhost-", pid_);
  std::map<std::string, uint64_t> ticks = {{"vcpu", 0}, {"emulator", 0}, {"vhost", 0}};
  std::string task_dir = absl::StrCat("/proc/", pid_, "/task");
  auto tasks = fs_->ListDir(task_dir);
  if (!tasks.ok()) {
    return absl::UnavailableError(absl::StrCat("QEMU (pid ", pid_, ") has ended"));
  }
  for (const std::string& tid : *tasks) {
    auto stat = fs_->ReadFile(absl::StrCat(task_dir, "/", tid, "/stat"));
    if (!stat.ok()) continue;  // a thread that just ended
    if (auto t = ParseStat(*stat)) {
      std::string cls = ClassOf(t->comm, vhost_name);
      if (cls == "vcpu") *named = true;
      ticks[cls] += t->ticks;
    }
  }
  // vhost workers as kernel threads (kernels before 6.4).
  for (const std::string& entry : fs_->ListDir("/proc").value_or(std::vector<std::string>{})) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry, &pid) || pid == pid_) continue;
    auto comm = fs_->ReadFile(absl::StrCat("/proc/", pid, "/comm"));
    if (!comm.ok() || absl::StripAsciiWhitespace(*comm) != vhost_name) continue;
    auto stat = fs_->ReadFile(absl::StrCat("/proc/", pid, "/stat"));
    if (!stat.ok()) continue;
    if (auto t = ParseStat(*stat)) ticks["vhost"] += t->ticks;
  }
  return ticks;
}

absl::Status QemuThreadsCollector::Collect(absl::Time now, std::vector<v1::MetricSample>* out) {
  bool named = false;
  auto ticks = Read(&named);
  if (!ticks.ok()) return ticks.status();
  (*ticks)["qemu"] = (*ticks)["vcpu"] + (*ticks)["emulator"];
  if (previous_) {
    double seconds = absl::ToDoubleSeconds(now - previous_->first);
    auto cores = [&](const char* cls) {
      uint64_t before = previous_->second[cls], after = (*ticks)[cls];
      return after >= before ? (after - before) / kTicksPerSecond / seconds : 0.0;
    };
    if (seconds > 0) {
      out->push_back(MakeSample("qemu_cpu_cores", now, cores("qemu")));
      if (named) {
        out->push_back(MakeSample("qemu_vcpu_cpu_cores", now, cores("vcpu")));
        out->push_back(MakeSample("qemu_emulator_cpu_cores", now, cores("emulator")));
      }
      out->push_back(MakeSample("vhost_cpu_cores", now, cores("vhost")));
    }
  }
  previous_ = std::make_pair(now, std::move(*ticks));
  return absl::OkStatus();
}

}  // namespace iommuvm::agent
