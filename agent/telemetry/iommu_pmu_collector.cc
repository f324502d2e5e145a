#include "agent/telemetry/iommu_pmu_collector.h"

#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace iommuvm::agent {
namespace {

constexpr char kPmus[] = "/sys/bus/event_source/devices";

class LinuxPerfCounters final : public PerfCounters {
 public:
  absl::StatusOr<int> Open(const Attr& a, int cpu) override {
    perf_event_attr attr{};
    attr.size = sizeof attr;
    attr.type = a.type;
    attr.config = a.config;
    attr.config1 = a.config1;
    attr.config2 = a.config2;
    long fd = ::syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0) return absl::UnavailableError(absl::StrCat("perf_event_open: ", std::strerror(errno)));
    return static_cast<int>(fd);
  }
  absl::StatusOr<uint64_t> Read(int handle) override {
    uint64_t v = 0;
    if (::read(handle, &v, sizeof v) != sizeof v) {
      return absl::UnavailableError(absl::StrCat("read perf counter: ", std::strerror(errno)));
    }
    return v;
  }
  void Close(int handle) override { ::close(handle); }
};

bool IsIommuPmu(const std::string& name) {
  return absl::StartsWith(name, "amd_iommu_") || absl::StartsWith(name, "uncore_iio_");
}

// Intel's IIO PMUs have many events; only the IOTLB/invalidation ones say
// something about the IOMMU.
bool WantedEvent(const std::string& pmu, const std::string& event) {
  if (absl::StartsWith(pmu, "amd_iommu_")) return true;
  std::string e = absl::AsciiStrToLower(event);
  return absl::StrContains(e, "iotlb") || absl::StrContains(e, "inval") ||
         absl::StrContains(e, "pwt") || absl::StrContains(e, "ctxt");
}

}  // namespace

std::unique_ptr<PerfCounters> MakeLinuxPerfCounters() {
  return std::make_unique<LinuxPerfCounters>();
}

absl::StatusOr<PerfCounters::Attr> EncodeEvent(const FileSystem& fs, const std::string& pmu_dir,
                                              const std::string& event) {
  PerfCounters::Attr attr;
  std::string type = ReadTrimmed(fs, pmu_dir + "/type");
  if (!absl::SimpleAtoi(type, &attr.type)) {
    return absl::DataLossError(absl::StrCat(pmu_dir, "/type is not a number"));
  }
  std::string spec = ReadTrimmed(fs, pmu_dir + "/events/" + event);
  for (absl::string_view term : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(term, absl::MaxSplits('=', 1));
    uint64_t value = 1;
    if (!kv.second.empty()) {
      bool ok = absl::StartsWith(kv.second, "0x") ? absl::SimpleHexAtoi(kv.second.substr(2), &value)
                                                  : absl::SimpleAtoi(kv.second, &value);
      if (!ok) return absl::DataLossError(absl::StrCat("event ", event, ": bad value in '", term, "'"));
    }
    // format/<term>: "config:0-7", "config1:8", "config:0-7,32-35" (first range used)
    std::string format = ReadTrimmed(fs, pmu_dir + "/format/" + kv.first);
    std::pair<std::string, std::string> where = absl::StrSplit(format, absl::MaxSplits(':', 1));
    std::string first_range = where.second.substr(0, where.second.find(','));
    std::string low_bit = first_range.substr(0, first_range.find('-'));
    int lo = 0;
    if (!absl::SimpleAtoi(low_bit, &lo)) {
      return absl::DataLossError(absl::StrCat("event ", event, ": no format for '", kv.first, "'"));
    }
    uint64_t* field = where.first == "config"    ? &attr.config
                      : where.first == "config1" ? &attr.config1
                      : where.first == "config2" ? &attr.config2
                                                 : nullptr;
    if (field == nullptr) {
      return absl::DataLossError(absl::StrCat("event ", event, ": unknown field '", where.first, "'"));
    }
    *field |= value << lo;
  }
  return attr;
}

IommuPmuCollector::~IommuPmuCollector() {
  for (const Counter& c : counters_) perf_->Close(c.handle);
}

absl::Status IommuPmuCollector::Open() {
  opened_ = true;
  auto pmus = fs_->ListDir(kPmus);
  std::vector<std::string> found;
  if (pmus.ok()) {
    for (const std::string& p : *pmus) {
      if (IsIommuPmu(p)) found.push_back(p);
    }
  }
  if (found.empty()) {
    return absl::NotFoundError(
        "no amd_iommu_* or uncore_iio_* PMU in /sys/bus/event_source/devices");
  }
  std::string why;
  for (const std::string& pmu : found) {
    std::string dir = absl::StrCat(kPmus, "/", pmu);
    int cpu = 0;
    std::string mask = ReadTrimmed(*fs_, dir + "/cpumask");
    (void)absl::SimpleAtoi(mask.substr(0, mask.find_first_of(",-")), &cpu);
    auto events = fs_->ListDir(dir + "/events");
    if (!events.ok()) continue;
    for (const std::string& event : *events) {
      if (absl::EndsWith(event, ".scale") || absl::EndsWith(event, ".unit") ||
          !WantedEvent(pmu, event)) {
        continue;
      }
      auto attr = EncodeEvent(*fs_, dir, event);
      auto handle = attr.ok() ? perf_->Open(*attr, cpu) : absl::StatusOr<int>(attr.status());
      if (!handle.ok()) {
        why = absl::StrCat(pmu, "/", event, ": ", handle.status().message());
        continue;
      }
      counters_.push_back({pmu, event, *handle, 0});
    }
  }
  if (counters_.empty()) {
    return absl::UnavailableError(absl::StrCat("IOMMU PMUs found (", found.front(),
                                               "...) but no event could be opened",
                                               why.empty() ? "" : ": " + why));
  }
  return absl::OkStatus();
}

absl::Status IommuPmuCollector::Collect(absl::Time now, std::vector<v1::MetricSample>* out) {
  if (!opened_) {
    RETURN_IF_ERROR(Open());
  }
  if (counters_.empty()) return absl::UnavailableError("no IOMMU PMU counters");
  bool have_baseline = last_time_ != absl::Time() && now > last_time_;
  double seconds = have_baseline ? absl::ToDoubleSeconds(now - last_time_) : 0;
  for (Counter& c : counters_) {
    ASSIGN_OR_RETURN(uint64_t value, perf_->Read(c.handle));
    if (have_baseline) {
      v1::MetricSample s = MakeSample("iommu_pmu_events_per_second", now,
                                      static_cast<double>(value - c.last) / seconds);
      (*s.mutable_labels())["pmu"] = c.pmu;
      (*s.mutable_labels())["event"] = c.event;
      out->push_back(std::move(s));
    }
    c.last = value;
  }
  last_time_ = now;
  return absl::OkStatus();
}

}  // namespace iommuvm::agent
