#include "agent/workload/sockperf_parser.h"

#include <map>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/terminal_text.h"

namespace iommuvm::agent {
namespace {

// The number right after `key` in `line` ("RunTime=1.550 sec" -> 1.55).
bool NumberAfter(absl::string_view line, absl::string_view key, double* out) {
  size_t at = line.find(key);
  if (at == absl::string_view::npos) return false;
  absl::string_view rest = absl::StripLeadingAsciiWhitespace(line.substr(at + key.size()));
  size_t end = 0;
  while (end < rest.size() && (absl::ascii_isdigit(rest[end]) || rest[end] == '.')) ++end;
  return absl::SimpleAtod(rest.substr(0, end), out);
}

}  // namespace

absl::StatusOr<v1::OperationResult> ParseSockperf(const std::string& output,
                                                  uint32_t message_size) {
  std::string text = StripTerminalEscapes(output);
  double run_time = -1, received = -1, average = -1;
  double scale = 1;  // 2 when sockperf printed half round trips
  std::map<std::string, double> percentiles;
  std::map<std::string, uint64_t> errors;
  std::string first_error;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumePrefix(&line, "sockperf:");
    line = absl::StripLeadingAsciiWhitespace(line);
    if (absl::StartsWith(line, "ERROR") && first_error.empty()) first_error = std::string(line);
    if (absl::StartsWith(line, "[Valid Duration]")) {
      NumberAfter(line, "RunTime=", &run_time);
      NumberAfter(line, "ReceivedMessages=", &received);
    } else if (absl::StartsWith(line, "====> avg-")) {
      if (NumberAfter(line, "avg-rtt=", &average)) {
        scale = 1;
      } else if (NumberAfter(line, "avg-latency=", &average) ||
                 NumberAfter(line, "avg-lat=", &average)) {
        scale = 2;
      }
    } else if (absl::StartsWith(line, "# dropped messages")) {
      for (const char* kind : {"dropped", "duplicated", "out-of-order"}) {
        double n = 0;
        if (NumberAfter(line, absl::StrCat("# ", kind, " messages ="), &n) && n > 0) {
          errors[kind] = static_cast<uint64_t>(n);
        }
      }
    } else if (absl::StartsWith(line, "---> ")) {
      // "---> percentile 99.000 =   47.049", "---> <MAX> observation = 1110.376"
      std::vector<std::string> halves = absl::StrSplit(line.substr(5), '=');
      double value = 0;
      if (halves.size() == 2 && absl::SimpleAtod(absl::StripAsciiWhitespace(halves[1]), &value)) {
        percentiles[std::string(absl::StripAsciiWhitespace(halves[0]))] = value;
      }
    }
  }
  if (run_time < 0 || received < 0 || average < 0) {
    if (!first_error.empty())
      return absl::UnavailableError(absl::StrCat("sockperf: ", first_error));
    if (absl::StrContains(text, "No valid observations")) {
      return absl::FailedPreconditionError(
          "sockperf measured no valid round trip: the run is too short for its warm-up "
          "(sockperf skips about 400 ms) or the rate too low");
    }
    return absl::InvalidArgumentError(
        "sockperf printed no '[Valid Duration]' and average line: not a ping-pong result");
  }
  if (run_time <= 0) {
    return absl::FailedPreconditionError("sockperf's measured part of the run lasted 0 s");
  }
  v1::OperationResult op;
  op.set_operation("ping-pong");
  op.set_requests(static_cast<uint64_t>(received));
  op.set_duration_s(run_time);
  op.set_throughput_ops(received / run_time);
  op.set_throughput_bytes(received * 2.0 * message_size / run_time);
  op.set_latency_mean_us(average * scale);
  auto pct = [&](const std::string& key) {
    auto it = percentiles.find(key);
    return it == percentiles.end() ? 0.0 : it->second * scale;
  };
  op.set_latency_min_us(pct("<MIN> observation"));
  op.set_latency_max_us(pct("<MAX> observation"));
  op.set_latency_p50_us(pct("percentile 50.000"));
  op.set_latency_p90_us(pct("percentile 90.000"));
  op.set_latency_p99_us(pct("percentile 99.000"));
  op.set_latency_p999_us(pct("percentile 99.900"));
  uint64_t total = 0;
  for (const auto& [kind, n] : errors) {
    (*op.mutable_errors_by_kind())[kind] = n;
    total += n;
  }
  op.set_errors(total);
  return op;
}

}  // namespace iommuvm::agent
