#include "agent/telemetry/cpu_collector.h"

#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/cpu_list.h"
#include "common/status_macros.h"

namespace iommuvm::agent {

CpuCollector::CpuCollector(const FileSystem* fs, const std::string& cores) : fs_(fs) {
  auto parsed = ParseCpuList(cores);  // validated with the spec
  if (parsed.ok()) cores_ = std::move(*parsed);
}

absl::StatusOr<CpuCollector::Totals> CpuCollector::ParseLine(absl::string_view line) {
  // "cpu[N] user nice system idle iowait irq softirq steal guest guest_nice"
  std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
  Totals t;
  for (size_t i = 1; i < f.size() && i <= 8; ++i) {  // guest time is inside user
    uint64_t v = 0;
    if (!absl::SimpleAtoi(f[i], &v)) return absl::DataLossError("bad /proc/stat cpu line");
    t.total += v;
    if (i != 4 && i != 5) t.busy += v;  // idle and iowait are not busy
    if (i == 1 || i == 2) t.user += v;
    if (i == 3) t.system += v;
    if (i == 7) t.softirq += v;
  }
  return t;
}

absl::Status CpuCollector::Collect(absl::Time now, std::vector<v1::MetricSample>* out) {
  ASSIGN_OR_RETURN(std::string stat, fs_->ReadFile("/proc/stat"));
  std::vector<absl::string_view> lines = absl::StrSplit(stat, '\n');
  if (lines.empty() || !absl::StartsWith(lines[0], "cpu ")) {
    return absl::DataLossError("/proc/stat has no aggregate cpu line");
  }
  ASSIGN_OR_RETURN(Totals t, ParseLine(lines[0]));
  auto share = [&](const std::optional<Totals>& before, const Totals& after, const char* name) {
    if (before && after.total > before->total && after.busy >= before->busy) {
      out->push_back(MakeSample(name, now,
                                static_cast<double>(after.busy - before->busy) /
                                    static_cast<double>(after.total - before->total)));
    }
  };
  share(previous_, t, "node_cpu_utilization");
  previous_ = t;
  if (cores_.empty()) return absl::OkStatus();
  // Each mode's share of the interval: user, system, softirq.
  auto modes = [&](const std::optional<Totals>& before, const Totals& after, const char* name,
                   const std::map<std::string, std::string>& labels) {
    if (!before || after.total <= before->total) return;
    double total = static_cast<double>(after.total - before->total);
    for (const auto& [mode, a, b] : {std::tuple{"user", after.user, before->user},
                                     std::tuple{"system", after.system, before->system},
                                     std::tuple{"softirq", after.softirq, before->softirq}}) {
      if (a < b) continue;
      v1::MetricSample s =
          MakeSample(labels.empty() ? absl::StrCat(name, "_", mode) : std::string(name), now,
                     static_cast<double>(a - b) / total);
      for (const auto& [k, v] : labels) (*s.mutable_labels())[k] = v;
      if (!labels.empty()) (*s.mutable_labels())["mode"] = mode;
      out->push_back(std::move(s));
    }
  };
  Totals pinned;
  std::map<int, Totals> per_core;
  for (size_t i = 1; i < lines.size(); ++i) {
    int cpu = -1;
    if (!absl::StartsWith(lines[i], "cpu")) break;  // the per-CPU lines come first
    absl::string_view id = lines[i].substr(3, lines[i].find(' ') - 3);
    if (!absl::SimpleAtoi(id, &cpu) || !cores_.count(cpu)) continue;
    ASSIGN_OR_RETURN(Totals c, ParseLine(lines[i]));
    pinned.Add(c);
    per_core[cpu] = c;
  }
  share(previous_cores_, pinned, "server_cores_cpu_utilization");
  modes(previous_cores_, pinned, "server_cores_cpu", {});
  for (const auto& [cpu, c] : per_core) {
    auto before = previous_per_core_.find(cpu);
    modes(before == previous_per_core_.end() ? std::nullopt : std::optional<Totals>(before->second),
          c, "server_core_cpu", {{"cpu", absl::StrCat(cpu)}});
  }
  previous_cores_ = pinned;
  previous_per_core_ = std::move(per_core);
  return absl::OkStatus();
}

}  // namespace iommuvm::agent
