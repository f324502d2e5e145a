#include "agent/telemetry/network_collector.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "agent/node/sysfs.h"
#include "common/status_macros.h"

namespace iommuvm::agent {
absl::StatusOr<std::map<std::string, NetworkCollector::Counters>> NetworkCollector::Parse(
    const std::string& text) {
  std::map<std::string, Counters> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos || absl::StrContains(line, "|")) continue;
    std::string device(absl::StripAsciiWhitespace(line.substr(0, colon)));
    std::vector<absl::string_view> f = absl::StrSplit(line.substr(colon + 1), ' ', absl::SkipEmpty());
    if (f.size() < 16) return absl::DataLossError("/proc/net/dev line has fewer than 16 fields");
    // rx: bytes packets errs drop ...; tx starts at field 8.
    const int index[6] = {0, 1, 3, 8, 9, 11};
    Counters c{};
    for (int i = 0; i < 6; ++i) {
      if (!absl::SimpleAtoi(f[index[i]], &c[i])) return absl::DataLossError("bad /proc/net/dev number");
    }
    out[device] = c;
  }
  return out;
}

uint64_t NetworkCollector::CounterDelta(uint64_t before, uint64_t after) {
  if (after >= before) return after - before;
  // A 32-bit counter in its upper half that came back small wrapped; any
  // other decrease is a reset (driver reloaded): count from zero.
  if (before >= (1ull << 31) && before < (1ull << 32)) return after + (1ull << 32) - before;
  return after;
}

absl::Status NetworkCollector::Collect(absl::Time now, std::vector<v1::MetricSample>* out) {
  ASSIGN_OR_RETURN(std::string text, fs_->ReadFile("/proc/net/dev"));
  ASSIGN_OR_RETURN(auto current, Parse(text));
  if (previous_ && now > previous_time_) {
    static const char* kNames[6] = {
        "node_network_receive_bytes_per_second",  "node_network_receive_packets_per_second",
        "node_network_receive_drops_per_second",  "node_network_transmit_bytes_per_second",
        "node_network_transmit_packets_per_second", "node_network_transmit_drops_per_second"};
    double seconds = absl::ToDoubleSeconds(now - previous_time_);
    double packets = 0;
    for (const auto& [device, c] : current) {
      auto before = previous_->find(device);
      if (before == previous_->end()) continue;  // new interface: baseline first
      for (int i = 0; i < 6; ++i) {
        double rate = CounterDelta(before->second[i], c[i]) / seconds;
        if (i == 1 || i == 4) packets += rate;
        v1::MetricSample s = MakeSample(kNames[i], now, rate);
        (*s.mutable_labels())["device"] = device;
        out->push_back(std::move(s));
      }
    }
    out->push_back(MakeSample("node_network_packets_per_second", now, packets));
  }
  CollectEthtool(now, previous_ ? absl::ToDoubleSeconds(now - previous_time_) : 0, out);
  previous_ = std::move(current);
  previous_time_ = now;
  return absl::OkStatus();
}

std::map<std::string, uint64_t> NetworkCollector::ParseEthtool(const std::string& text) {
  static const char* kWorth[] = {"drop", "discard", "err", "out_of_buffer", "pause", "timeout",
                                 "fifo", "miss"};
  std::map<std::string, uint64_t> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    size_t colon = line.rfind(':');
    if (colon == absl::string_view::npos) continue;
    std::string name(absl::StripAsciiWhitespace(line.substr(0, colon)));
    uint64_t value = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(colon + 1)), &value)) continue;
    for (const char* w : kWorth) {
      if (absl::StrContains(name, w)) {
        out[name] = value;
        break;
      }
    }
  }
  return out;
}

void NetworkCollector::CollectEthtool(absl::Time now, double seconds,
                                      std::vector<v1::MetricSample>* out) {
  if (runner_ == nullptr || !runner_->Which("ethtool").ok()) return;
  for (const NetInterface& nic : NetInterfaces(*fs_)) {
    if (nic.bdf.empty()) continue;  // virtual interfaces have no hardware counters
    CommandSpec spec;
    spec.argv = {"ethtool", "-S", nic.name};
    spec.timeout = absl::Seconds(2);
    auto r = runner_->Run(spec);
    if (!r.ok() || !r->ok()) continue;
    std::map<std::string, uint64_t> counters = ParseEthtool(r->out);
    auto before = previous_nic_.find(nic.name);
    if (before != previous_nic_.end() && seconds > 0) {
      for (const auto& [name, value] : counters) {
        auto b = before->second.find(name);
        if (b == before->second.end() || b->second == value) continue;
        v1::MetricSample s =
            MakeSample("node_nic_counter_per_second", now, CounterDelta(b->second, value) / seconds);
        (*s.mutable_labels())["device"] = nic.name;
        (*s.mutable_labels())["counter"] = name;
        out->push_back(std::move(s));
      }
    }
    previous_nic_[nic.name] = std::move(counters);
  }
}

}  // namespace iommuvm::agent
