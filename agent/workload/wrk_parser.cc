#include "agent/workload/wrk_parser.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace iommuvm::agent {

const std::string& WrkReportScript() {
  static const auto* script = new std::string(R"lua(-- written by iommuvm-agent
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "IOMMUVM_RESULT requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d mean=%.2f min=%d max=%d p50=%d p90=%d p99=%d p999=%d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency.mean, latency.min, latency.max, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
)lua");
  return *script;
}

absl::StatusOr<v1::OperationResult> ParseWrk(const std::string& output) {
  std::map<std::string, double> f;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, "IOMMUVM_RESULT ")) continue;
    found = true;
    for (absl::string_view kv : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
      double v = 0;
      if (!absl::SimpleAtod(p.second, &v)) {
        return absl::InvalidArgumentError(absl::StrCat("wrk result field '", kv, "' is not a number"));
      }
      f[p.first] = v;
    }
  }
  if (!found) {
    std::string said(absl::StripAsciiWhitespace(output));
    return absl::UnavailableError(absl::StrCat(
        "wrk printed no result: ", said.empty() ? "(no output)" : said.substr(0, 400)));
  }
  for (const char* key : {"requests", "duration_us", "bytes", "mean", "p50", "p99", "max"}) {
    if (!f.count(key)) return absl::InvalidArgumentError(absl::StrCat("wrk result lacks ", key));
  }
  v1::OperationResult r;
  r.set_operation("GET");
  double seconds = f["duration_us"] / 1e6;
  r.set_duration_s(seconds);
  r.set_requests(static_cast<uint64_t>(f["requests"]));
  if (seconds > 0) {
    r.set_throughput_ops(f["requests"] / seconds);
    r.set_throughput_bytes(f["bytes"] / seconds);
  }
  r.set_latency_mean_us(f["mean"]);
  r.set_latency_min_us(f["min"]);
  r.set_latency_p50_us(f["p50"]);
  r.set_latency_p90_us(f["p90"]);
  r.set_latency_p99_us(f["p99"]);
  r.set_latency_p999_us(f["p999"]);
  r.set_latency_max_us(f["max"]);
  uint64_t errors = 0;
  // wrk's "status" counts responses outside 2xx/3xx.
  for (const auto& [field, kind] : {std::pair{"connect", "connect"}, std::pair{"read", "read"},
                                    std::pair{"write", "write"}, std::pair{"timeout", "timeout"},
                                    std::pair{"status", "http_status"}}) {
    auto n = static_cast<uint64_t>(f[field]);
    if (n > 0) (*r.mutable_errors_by_kind())[kind] = n;
    errors += n;
  }
  r.set_errors(errors);
  return r;
}

}  // namespace iommuvm::agent
