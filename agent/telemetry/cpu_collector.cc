#include "agent/telemetry/cpu_collector.h"

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
  Totals pinned;
  for (size_t i = 1; i < lines.size(); ++i) {
    int cpu = -1;
    if (!absl::StartsWith(lines[i], "cpu")) break;  // the per-CPU lines come first
    absl::string_view id = lines[i].substr(3, lines[i].find(' ') - 3);
    if (!absl::SimpleAtoi(id, &cpu) || !cores_.count(cpu)) continue;
    ASSIGN_OR_RETURN(Totals c, ParseLine(lines[i]));
    pinned.busy += c.busy;
    pinned.total += c.total;
  }
  share(previous_cores_, pinned, "server_cores_cpu_utilization");
  previous_cores_ = pinned;
  return absl::OkStatus();
}

}  // namespace iommuvm::agent
