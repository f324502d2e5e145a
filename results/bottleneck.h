#pragma once
// What limited a run, from its telemetry: the link (the data interface's
// busier direction at ≥ 90% of its speed), the server's CPU (its pinned
// cores, or the whole node when unpinned, ≥ 95% busy), the client's CPU
// (the generator's threads ≥ 95% busy), or none of them (the load is
// below saturation: expected of a fixed-rate run). Checked in that order:
// a full link bounds everything behind it. A limit that was not measured
// (a link whose speed the driver does not report, a server without CPU
// telemetry) leaves the verdict `unknown` unless another limit was hit.

#include <optional>
#include <string>

namespace iommuvm::results {

inline constexpr double kLinkSaturated = 0.90;
inline constexpr double kCpuSaturated = 0.95;

struct BottleneckInputs {
  std::optional<double> link;        // share of line rate, 0..1
  std::optional<double> link_gbps;   // the link's speed, for the explanation
  std::optional<double> server_cpu;  // busy share, 0..1
  bool server_pinned = false;        // server_cpu is of its pinned cores
  std::optional<double> generator;   // busy share of the generator's threads, 0..1
};

struct Bottleneck {
  std::string verdict;  // link | server-cpu | client-cpu | none | unknown
  // Every input as measured: "link 93% of 100 Gbit/s, server cores 41%,
  // generator 33%".
  std::string evidence;
};

Bottleneck JudgeBottleneck(const BottleneckInputs& in);

}  // namespace iommuvm::results
