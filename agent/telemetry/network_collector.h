#pragma once
// Network traffic per interface from /proc/net/dev: bytes, packets and
// drops per second in each direction, as
// "node_network_{receive,transmit}_{bytes,packets,drops}_per_second{device}",
// plus "node_network_packets_per_second" over all interfaces. A counter
// that went down from the upper half of 32 bits wrapped (old drivers);
// otherwise it was reset (driver reload): never a negative or huge delta.

#include <array>
#include <map>
#include <optional>

#include "agent/telemetry/collector.h"
#include "common/command_runner.h"
#include "common/file_system.h"

namespace iommuvm::agent {

//
// With `runner` and ethtool installed, it also reads `ethtool -S` of every
// PCI NIC and reports the counters that explain lost performance — drops,
// discards, errors, out-of-buffer, pause frames, timeouts — that changed,
// as "node_nic_counter_per_second{device,counter}".
class NetworkCollector final : public Collector {
 public:
  explicit NetworkCollector(const FileSystem* fs, CommandRunner* runner = nullptr)
      : fs_(fs), runner_(runner) {}
  std::string name() const override { return "network"; }
  absl::Status Collect(absl::Time now, std::vector<v1::MetricSample>* out) override;

  // rx bytes, rx packets, rx drops, tx bytes, tx packets, tx drops.
  using Counters = std::array<uint64_t, 6>;
  static absl::StatusOr<std::map<std::string, Counters>> Parse(const std::string& text);
  static uint64_t CounterDelta(uint64_t before, uint64_t after);
  // The counters of `ethtool -S` output worth reporting, by name.
  static std::map<std::string, uint64_t> ParseEthtool(const std::string& text);

 private:
  void CollectEthtool(absl::Time now, double seconds, std::vector<v1::MetricSample>* out);

  const FileSystem* fs_;
  CommandRunner* runner_;
  std::map<std::string, std::map<std::string, uint64_t>> previous_nic_;  // device -> counters
  std::optional<std::map<std::string, Counters>> previous_;
  absl::Time previous_time_;
};

}  // namespace iommuvm::agent
