#include "agent/workload/memtier_parser.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/json_object.h"

namespace iommuvm::agent {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// The number under `key`, or `fallback` when absent / not a number.
double Number(const Struct& s, const std::string& key, double fallback = 0) {
  return JsonNumber(s, key).value_or(fallback);
}

// printf writes NaN and infinities as bare words, which JSON lacks; memtier
// prints them for a command type that never ran.
std::string WithoutNonFinite(const std::string& json) {
  return absl::StrReplaceAll(
      json, {{": -nan", ": null"}, {": nan", ": null"}, {": -inf", ": null"}, {": inf", ": null"}});
}

v1::OperationResult Operation(const Struct& stats, const std::string& name, double duration_s) {
  constexpr double kUsPerMs = 1000;
  v1::OperationResult r;
  r.set_operation(name);
  r.set_throughput_ops(Number(stats, "Ops/sec"));
  r.set_throughput_bytes(Number(stats, "KB/sec") * 1024);
  r.set_latency_mean_us(Number(stats, "Average Latency", Number(stats, "Latency")) * kUsPerMs);
  r.set_latency_min_us(Number(stats, "Min Latency") * kUsPerMs);
  r.set_latency_max_us(Number(stats, "Max Latency") * kUsPerMs);
  if (const Struct* p = JsonObject(stats, "Percentile Latencies")) {
    for (const auto& [key, value] : p->fields()) {
      double q = 0;
      absl::string_view k = key;
      absl::ConsumePrefix(&k, "p");
      if (value.kind_case() != Value::kNumberValue || !absl::SimpleAtod(k, &q)) continue;
      double us = value.number_value() * kUsPerMs;
      if (std::abs(q - 50) < 1e-9) r.set_latency_p50_us(us);
      if (std::abs(q - 90) < 1e-9) r.set_latency_p90_us(us);
      if (std::abs(q - 95) < 1e-9) r.set_latency_p95_us(us);
      if (std::abs(q - 99) < 1e-9) r.set_latency_p99_us(us);
      if (std::abs(q - 99.9) < 1e-9) r.set_latency_p999_us(us);
    }
  }
  double count = JsonNumber(stats, "Count").value_or(std::round(r.throughput_ops() * duration_s));
  r.set_requests(static_cast<uint64_t>(count));
  r.set_duration_s(duration_s);
  return r;
}

}  // namespace

absl::StatusOr<MemtierReport> ParseMemtierJson(const std::string& json) {
  auto parsed = ParseJsonObject(WithoutNonFinite(json));
  if (!parsed.ok()) {
    std::string said(absl::StripAsciiWhitespace(json));
    return absl::InvalidArgumentError(
        absl::StrCat("memtier_benchmark's JSON output is not JSON (", parsed.status().message(),
                     "): ", said.empty() ? "(empty file)" : said.substr(0, 200)));
  }
  const Struct& doc = *parsed;
  const Struct* all = JsonObject(doc, "ALL STATS");
  if (all == nullptr) {
    return absl::InvalidArgumentError(
        "memtier_benchmark's JSON output has no \"ALL STATS\" section (is it 1.3 or newer?)");
  }
  MemtierReport report;
  if (const Struct* runtime = JsonObject(*all, "Runtime")) {
    // Milliseconds in every version that writes it ("Time unit").
    report.duration_s = Number(*runtime, "Total duration") / 1000;
  }
  if (report.duration_s <= 0) {
    if (const Struct* info = JsonObject(doc, "run information")) {
      report.duration_s = Number(*info, "Actual benchmark duration (seconds)");
    }
  }
  if (const Struct* done = JsonObject(doc, "benchmark_completion")) {
    report.interrupted = JsonBool(*done, "full_run") == false;
  }
  if (const Struct* totals = JsonObject(*all, "Totals")) {
    if (uint64_t n = static_cast<uint64_t>(Number(*totals, "Connection Errors")); n > 0) {
      report.errors["connection"] = n;
    }
  }
  for (const auto& [section, op] : {std::pair{"Sets", "SET"}, std::pair{"Gets", "GET"}}) {
    const Struct* stats = JsonObject(*all, section);
    if (stats == nullptr) continue;
    v1::OperationResult r = Operation(*stats, op, report.duration_s);
    if (r.requests() == 0 && r.throughput_ops() <= 0) continue;  // not in the ratio
    report.operations.push_back(std::move(r));
  }
  if (report.operations.empty()) {
    return absl::UnavailableError("memtier_benchmark's JSON output has no SET or GET operations");
  }
  return report;
}

void MemtierProgress::Feed(absl::string_view chunk) {
  lines_.Feed(chunk, [this](absl::string_view line) {
    absl::string_view t = absl::StripAsciiWhitespace(line);
    if (!absl::StartsWith(t, "[RUN #")) return;
    size_t ops = t.find(" ops, ");
    if (ops == absl::string_view::npos) return;
    std::vector<absl::string_view> w = absl::StrSplit(t.substr(ops + 6), ' ', absl::SkipEmpty());
    double rate = 0;
    if (!w.empty() && absl::SimpleAtod(w[0], &rate) && rate > 0) on_ops_(rate);
  });
}

}  // namespace iommuvm::agent
