#include "agent/workload/netperf_parser.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace iommuvm::agent {

const std::vector<std::string>& NetperfSelectors() {
  static const auto* selectors = new std::vector<std::string>{
      "TRANSACTION_RATE", "ELAPSED_TIME", "REQUEST_SIZE",  "RESPONSE_SIZE",
      "MIN_LATENCY",      "MEAN_LATENCY", "P50_LATENCY",   "P90_LATENCY",
      "P99_LATENCY",      "MAX_LATENCY",  "STDDEV_LATENCY"};
  return *selectors;
}

absl::StatusOr<v1::OperationResult> ParseNetperf(const std::string& output) {
  std::map<std::string, double> values;
  std::string first_line;
  for (absl::string_view raw : absl::StrSplit(output, '\n', absl::SkipEmpty())) {
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty()) continue;
    size_t eq = line.find('=');
    double v = 0;
    if (eq != absl::string_view::npos &&
        absl::SimpleAtod(absl::StripAsciiWhitespace(line.substr(eq + 1)), &v)) {
      values[std::string(line.substr(0, eq))] = v;
    } else if (first_line.empty()) {
      first_line = std::string(line);
    }
  }
  auto rate = values.find("TRANSACTION_RATE");
  if (rate == values.end()) {
    if (!first_line.empty()) return absl::UnavailableError(absl::StrCat("netperf: ", first_line));
    return absl::InvalidArgumentError(
        "netperf printed no TRANSACTION_RATE= line: not a TCP_RR result in keyword output");
  }
  auto get = [&](const char* key) {
    auto it = values.find(key);
    return it == values.end() ? 0.0 : it->second;
  };
  double elapsed = get("ELAPSED_TIME");
  if (elapsed <= 0) {
    return absl::FailedPreconditionError("netperf's TCP_RR lasted 0 s (no ELAPSED_TIME)");
  }
  v1::OperationResult op;
  op.set_operation("TCP_RR");
  op.set_duration_s(elapsed);
  op.set_throughput_ops(rate->second);
  op.set_requests(static_cast<uint64_t>(rate->second * elapsed + 0.5));
  op.set_throughput_bytes(rate->second * (get("REQUEST_SIZE") + get("RESPONSE_SIZE")));
  op.set_latency_min_us(get("MIN_LATENCY"));
  op.set_latency_mean_us(get("MEAN_LATENCY"));
  op.set_latency_p50_us(get("P50_LATENCY"));
  op.set_latency_p90_us(get("P90_LATENCY"));
  op.set_latency_p99_us(get("P99_LATENCY"));
  op.set_latency_max_us(get("MAX_LATENCY"));
  return op;
}

}  // namespace iommuvm::agent
