#include "agent/workload/memtier_parser.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "agent/workload/latency_buckets.h"
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

// memtier 1.3's histogram: "ALL STATS"."SET"/"GET" = [{"<=msec": ms,
// "percent": cumulative %}, ...]; the first bucket reaching each quantile.
void PercentilesFromHistogram(const Struct& all, const std::string& op,
                              v1::OperationResult* r) {
  auto it = all.fields().find(op);
  if (it == all.fields().end() || it->second.kind_case() != Value::kListValue) return;
  constexpr double kUsPerMs = 1000;
  std::vector<std::pair<double, double>> buckets;  // (percent, ms)
  for (const Value& v : it->second.list_value().values()) {
    if (v.kind_case() != Value::kStructValue) continue;
    auto ms = JsonNumber(v.struct_value(), "<=msec");
    auto pct = JsonNumber(v.struct_value(), "percent");
    if (ms && pct) buckets.emplace_back(*pct, *ms);
  }
  if (buckets.empty()) return;
  auto at = [&](double q) { return PercentileUsFromBuckets(buckets, q); };
  r->set_latency_p50_us(at(50));
  r->set_latency_p90_us(at(90));
  r->set_latency_p95_us(at(95));
  r->set_latency_p99_us(at(99));
  r->set_latency_p999_us(at(99.9));
  r->set_latency_max_us(buckets.back().second * kUsPerMs);
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
        "memtier_benchmark's JSON output has no \"ALL STATS\" section (memtier 1.3 or newer writes one)");
  }
  MemtierReport report;
  if (const Struct* runtime = JsonObject(*all, "Runtime")) {  // 1.4 and later
    std::string unit = JsonString(*runtime, "Time unit");
    if (!unit.empty() && unit != "MILLISECONDS") {
      return absl::InvalidArgumentError(absl::StrCat(
          "memtier_benchmark's Runtime is in '", unit, "', not milliseconds as every known "
          "version writes it; refusing rather than guessing the run's duration"));
    }
    report.duration_s = Number(*runtime, "Total duration") / 1000;
    report.interrupted = JsonString(*runtime, "Interrupted") == "true";  // 2.3 and later
  } else if (const Struct* info = JsonObject(doc, "run information")) {  // 1.3
    report.duration_s = Number(*info, "Seconds");
  }
  if (report.duration_s <= 0) {
    return absl::InvalidArgumentError(
        "memtier_benchmark's JSON output says neither how long the run took (\"Runtime\", 1.4 "
        "and later) nor its --test-time (\"run information\".\"Seconds\"): a request-bounded "
        "memtier 1.3 run; use --test-time or memtier 1.4 or newer");
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
    if (!JsonObject(*stats, "Percentile Latencies")) {
      PercentilesFromHistogram(*all, op, &r);  // 1.3: only the histogram
    }
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
