#pragma once
// Node CPU utilisation from /proc/stat: busy share of all CPUs over the
// interval (0..1), as metric "node_cpu_utilization"; and, when the server
// is pinned, the busy share of its cores alone as
// "server_cores_cpu_utilization" (8 busy cores of 144 threads read 5% in
// the node's mean, 100% here), split into "server_cores_cpu_{user,system,
// softirq}" (user includes nice; system is kernel time outside interrupts)
// and per pinned core as "server_core_cpu{cpu,mode}" with the same modes.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "agent/telemetry/collector.h"
#include "common/file_system.h"

namespace iommuvm::agent {

class CpuCollector final : public Collector {
 public:
  // `cores`: a CPU list such as "0-7,16" (empty: no per-core metric).
  explicit CpuCollector(const FileSystem* fs, const std::string& cores = "");
  std::string name() const override { return "cpu"; }
  absl::Status Collect(absl::Time now, std::vector<v1::MetricSample>* out) override;

 private:
  struct Totals {
    uint64_t busy = 0;
    uint64_t total = 0;
    uint64_t user = 0;  // user + nice
    uint64_t system = 0;
    uint64_t softirq = 0;
    void Add(const Totals& o) {
      busy += o.busy;
      total += o.total;
      user += o.user;
      system += o.system;
      softirq += o.softirq;
    }
  };
  // Busy and total jiffies of one /proc/stat cpu line's fields.
  static absl::StatusOr<Totals> ParseLine(absl::string_view line);
  const FileSystem* fs_;
  std::set<int> cores_;
  std::optional<Totals> previous_;
  std::optional<Totals> previous_cores_;
  std::map<int, Totals> previous_per_core_;
};

}  // namespace iommuvm::agent
