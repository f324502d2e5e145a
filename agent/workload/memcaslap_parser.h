#pragma once
// Parses memcaslap (memaslap, from libmemcached-tools) output run with
// -S: its terminal escapes stripped, the final "Get/Set Statistics (N
// events)" blocks read for min/max/avg and the log2 latency distribution
// (percentiles interpolated inside a power-of-two bucket, so p99 is known
// to within its bucket, e.g. 64-128 µs; the averages the tool prints agree
// only with bucket k holding (2^(k-1), 2^k] µs, which is how it files them), and "Run time: .. Ops: .. TPS"
// for throughput. One result per operation (GET, SET).

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/workload/line_stream.h"
#include "iommuvm/v1/common.pb.h"

namespace iommuvm::agent {

absl::StatusOr<std::vector<v1::OperationResult>> ParseMemcaslap(const std::string& output);

// Reads memcaslap's periodic tables as they arrive and reports the
// "Total Statistics" Period TPS of each interval.
class MemcaslapProgress {
 public:
  explicit MemcaslapProgress(std::function<void(double)> on_tps) : on_tps_(std::move(on_tps)) {}
  void Feed(absl::string_view chunk);

 private:
  std::function<void(double)> on_tps_;
  LineStream lines_;
  bool in_total_ = false;
};

}  // namespace iommuvm::agent
