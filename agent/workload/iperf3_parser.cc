#include "agent/workload/iperf3_parser.h"

#include "absl/strings/str_cat.h"
#include "agent/workload/load_generator.h"
#include "common/json_object.h"

namespace iommuvm::agent {

absl::StatusOr<Iperf3Flow> ParseIperf3Json(const std::string& output) {
  // The document is all of stdout; anything iperf3 wrote to stderr may sit
  // around it in the combined output.
  size_t open = output.find('{');
  size_t close = output.rfind('}');
  if (open == std::string::npos || close == std::string::npos || close < open) {
    return absl::InvalidArgumentError(absl::StrCat(
        "iperf3 printed no JSON document (was it run with -J?): ", output.substr(0, 200)));
  }
  auto doc = ParseJsonObject(output.substr(open, close - open + 1));
  if (!doc.ok()) return doc.status();
  std::string error = JsonString(*doc, "error");
  if (!error.empty()) {
    std::string what = absl::StrCat("iperf3: ", error);
    return SaysTheConnectionFailed(error) ? absl::UnavailableError(what)
                                          : absl::FailedPreconditionError(what);
  }
  const auto* end = JsonObject(*doc, "end");
  const auto* sent = end ? JsonObject(*end, "sum_sent") : nullptr;
  const auto* received = end ? JsonObject(*end, "sum_received") : nullptr;
  if (sent == nullptr || received == nullptr) {
    return absl::InvalidArgumentError(
        "iperf3's document has no end.sum_sent/sum_received: a UDP or unfinished test?");
  }
  Iperf3Flow flow;
  flow.bytes_received = static_cast<uint64_t>(JsonNumber(*received, "bytes").value_or(0));
  flow.seconds = JsonNumber(*received, "seconds").value_or(0);
  flow.bytes_sent = static_cast<uint64_t>(JsonNumber(*sent, "bytes").value_or(0));
  flow.retransmits = static_cast<uint64_t>(JsonNumber(*sent, "retransmits").value_or(0));
  if (const auto* cpu = JsonObject(*end, "cpu_utilization_percent")) {
    flow.sender_cpu_percent = JsonNumber(*cpu, "host_total").value_or(0);
  }
  if (flow.seconds <= 0) {
    return absl::FailedPreconditionError("iperf3's measured interval lasted 0 s");
  }
  return flow;
}

}  // namespace iommuvm::agent
