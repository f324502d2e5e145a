#include "agent/workload/redis_benchmark_parser.h"

#include <cmath>

#include <map>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/workload/latency_buckets.h"

namespace iommuvm::agent {
namespace {

constexpr double kUsPerMs = 1000.0;

std::vector<std::string> Lines(const std::string& output) {
  // -q output overwrites progress with \r; treat \r as a line break too.
  std::vector<std::string> lines;
  for (absl::string_view l : absl::StrSplit(output, absl::ByAnyChar("\r\n"), absl::SkipEmpty())) {
    absl::string_view t = absl::StripAsciiWhitespace(l);
    if (!t.empty()) lines.emplace_back(t);
  }
  return lines;
}

std::optional<double> Number(absl::string_view s) {
  double v;
  s = absl::StripAsciiWhitespace(s);
  if (absl::ConsumePrefix(&s, "\"")) absl::ConsumeSuffix(&s, "\"");
  if (!absl::SimpleAtod(s, &v)) return std::nullopt;
  return v;
}

std::string Unquote(absl::string_view s) {
  s = absl::StripAsciiWhitespace(s);
  absl::ConsumePrefix(&s, "\"");
  absl::ConsumeSuffix(&s, "\"");
  return std::string(s);
}

bool IsErrorLine(const std::string& line) {
  static const char* kMarkers[] = {"Could not connect", "replied with error", "NOAUTH",
                                   "WRONGPASS",         "ERR ",               "Error:",
                                   "Invalid option",    "Unrecognized option"};
  for (const char* m : kMarkers) {
    if (absl::StrContains(line, m)) return true;
  }
  return false;
}

// --csv: a header naming the columns (6.2+), or the old two-column form
// ("GET","87719.30"). A header with a column this parser does not know is
// an error: dropping it would store partial numbers silently.
absl::StatusOr<bool> ParseCsv(const std::vector<std::string>& lines,
                              std::vector<v1::OperationResult>* out) {
  static const std::set<std::string> kKnown = {
      "test",           "rps",            "avg_latency_ms", "min_latency_ms",
      "p50_latency_ms", "p95_latency_ms", "p99_latency_ms", "max_latency_ms"};
  std::vector<std::string> header;
  for (const auto& line : lines) {
    if (line.empty() || line[0] != '"') continue;
    std::vector<std::string> cells;
    for (absl::string_view c : absl::StrSplit(line, ',')) cells.push_back(Unquote(c));
    if (cells[0] == "test") {
      header = cells;
      for (const std::string& h : header) {
        if (!kKnown.count(h)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "redis-benchmark --csv has a column '", h, "' this parser does not know (header: ",
              line, "); refusing rather than storing partial numbers"));
        }
      }
      continue;
    }
    if (cells.size() < 2) continue;
    auto rps = Number(cells[1]);
    if (!rps) continue;
    v1::OperationResult r;
    r.set_operation(cells[0]);
    r.set_throughput_ops(*rps);
    for (size_t i = 2; i < cells.size() && i < header.size(); ++i) {
      auto v = Number(cells[i]);
      if (!v) continue;
      double us = *v * kUsPerMs;
      const std::string& h = header[i];
      if (h == "avg_latency_ms") r.set_latency_mean_us(us);
      if (h == "min_latency_ms") r.set_latency_min_us(us);
      if (h == "p50_latency_ms") r.set_latency_p50_us(us);
      if (h == "p95_latency_ms") r.set_latency_p95_us(us);
      if (h == "p99_latency_ms") r.set_latency_p99_us(us);
      if (h == "max_latency_ms") r.set_latency_max_us(us);
    }
    out->push_back(std::move(r));
  }
  return !out->empty();
}

// -q: "SET: 94339.62 requests per second, p50=0.063 msec"
bool ParseQuiet(const std::vector<std::string>& lines, std::vector<v1::OperationResult>* out) {
  for (const auto& line : lines) {
    size_t colon = line.find(": ");
    size_t rps_end = line.find(" requests per second");
    if (colon == std::string::npos || rps_end == std::string::npos || rps_end < colon) continue;
    auto rps = Number(absl::string_view(line).substr(colon + 2, rps_end - colon - 2));
    if (!rps) continue;
    v1::OperationResult r;
    r.set_operation(line.substr(0, colon));
    r.set_throughput_ops(*rps);
    size_t p50 = line.find("p50=");
    if (p50 != std::string::npos) {
      size_t end = line.find(" msec", p50);
      if (auto v = Number(absl::string_view(line).substr(p50 + 4, end - p50 - 4))) {
        r.set_latency_p50_us(*v * kUsPerMs);
      }
    }
    out->push_back(std::move(r));
  }
  return !out->empty();
}

// The default report: "====== GET ======" sections. 6.2+ prints a
// percentile distribution, a cumulative one and a summary; 6.0 prints one
// "%.2f%% <= %.*f milliseconds" line per bucket straight after the header
// block and "%.2f requests per second" (no avg or min).
bool ParsePlain(const std::vector<std::string>& lines, std::vector<v1::OperationResult>* out) {
  v1::OperationResult* cur = nullptr;
  bool in_percentiles = false;
  bool legacy = true;  // no 6.2+ headers seen in this section
  std::vector<std::pair<double, double>> dist;  // (percent, ms)
  auto finish = [&] {
    if (cur == nullptr) return;
    auto at = [&](double p) { return PercentileUsFromBuckets(dist, p); };
    if (!dist.empty()) {
      cur->set_latency_p90_us(at(90.0));
      cur->set_latency_p999_us(at(99.9));
      if (legacy) {  // 6.0: the buckets are all there is
        cur->set_latency_p50_us(at(50.0));
        cur->set_latency_p95_us(at(95.0));
        cur->set_latency_p99_us(at(99.0));
        cur->set_latency_max_us(dist.back().second * kUsPerMs);
      }
    }
    dist.clear();
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (absl::StartsWith(line, "======") || absl::StrContains(line, "====== ")) {
      size_t open = line.find("====== ");
      size_t close = line.rfind(" ======");
      if (open == std::string::npos || close == std::string::npos || close <= open) continue;
      finish();
      out->emplace_back();
      cur = &out->back();
      cur->set_operation(line.substr(open + 7, close - open - 7));
      in_percentiles = false;
      legacy = true;
      continue;
    }
    if (cur == nullptr) continue;
    if (absl::StrContains(line, "requests completed in")) {
      std::vector<std::string> w = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (w.size() >= 6) {
        uint64_t n;
        if (absl::SimpleAtoi(w[0], &n)) cur->set_requests(n);
        if (auto s = Number(w[4])) cur->set_duration_s(*s);
      }
    } else if (absl::StartsWith(line, "Latency by percentile distribution")) {
      in_percentiles = true;
      legacy = false;
    } else if (absl::StartsWith(line, "Cumulative distribution")) {
      in_percentiles = false;
      legacy = false;
    } else if ((in_percentiles || legacy) && absl::StrContains(line, "% <= ")) {
      size_t pct_end = line.find('%');
      size_t le = line.find("<= ");
      size_t ms_end = line.find(" milliseconds");
      auto pct = Number(line.substr(0, pct_end));
      auto ms = Number(line.substr(le + 3, ms_end - le - 3));
      if (pct && ms) dist.emplace_back(*pct, *ms);
    } else if (legacy && absl::EndsWith(line, " requests per second") &&
               line.find(' ') == line.find(" requests per second")) {
      if (auto v = Number(absl::StripSuffix(line, " requests per second"))) {
        cur->set_throughput_ops(*v);
      }
    } else if (absl::StartsWith(line, "throughput summary:")) {
      if (auto v = Number(absl::StripSuffix(
              absl::StripPrefix(line, "throughput summary: "), " requests per second"))) {
        cur->set_throughput_ops(*v);
      }
    } else if (line == "avg       min       p50       p95       p99       max" ||
               (absl::StartsWith(line, "avg") && absl::StrContains(line, "p99"))) {
      if (i + 1 >= lines.size()) continue;
      std::vector<std::string> names = absl::StrSplit(line, ' ', absl::SkipEmpty());
      std::vector<std::string> values = absl::StrSplit(lines[i + 1], ' ', absl::SkipEmpty());
      for (size_t k = 0; k < names.size() && k < values.size(); ++k) {
        auto v = Number(values[k]);
        if (!v) continue;
        double us = *v * kUsPerMs;
        if (names[k] == "avg") cur->set_latency_mean_us(us);
        if (names[k] == "min") cur->set_latency_min_us(us);
        if (names[k] == "p50") cur->set_latency_p50_us(us);
        if (names[k] == "p95") cur->set_latency_p95_us(us);
        if (names[k] == "p99") cur->set_latency_p99_us(us);
        if (names[k] == "max") cur->set_latency_max_us(us);
      }
      ++i;
    }
  }
  finish();
  // A section without a throughput summary did not complete.
  std::erase_if(*out, [](const v1::OperationResult& r) { return r.throughput_ops() <= 0; });
  return !out->empty();
}

}  // namespace

absl::StatusOr<std::vector<v1::OperationResult>> ParseRedisBenchmark(const std::string& output) {
  std::vector<std::string> lines = Lines(output);
  std::vector<std::string> errors;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!IsErrorLine(lines[i])) continue;
    std::string e = lines[i];
    // "Node ... replied with error:" is followed by the server's message.
    if (absl::EndsWith(e, "error:") && i + 1 < lines.size()) e += " " + lines[++i];
    errors.push_back(e);
  }
  if (!errors.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("redis-benchmark: ", absl::StrJoin(errors, "; ")));
  }
  std::vector<v1::OperationResult> out;
  auto csv = ParseCsv(lines, &out);
  if (!csv.ok()) return csv.status();
  if (*csv || ParsePlain(lines, &out) || ParseQuiet(lines, &out)) return out;
  std::string tail = output.size() > 400 ? output.substr(output.size() - 400) : output;
  return absl::InvalidArgumentError(absl::StrCat(
      "redis-benchmark printed no result: ",
      tail.empty() ? "(no output)" : std::string(absl::StripAsciiWhitespace(tail))));
}

void RedisBenchmarkProgress::Feed(absl::string_view chunk) {
  lines_.Feed(chunk, [this](absl::string_view segment) {
    size_t at = segment.find(": rps=");
    if (at == absl::string_view::npos) return;
    absl::string_view value = segment.substr(at + 6, segment.find(' ', at + 6) - at - 6);
    double rps = 0;
    if (absl::SimpleAtod(value, &rps) && rps > 0 && std::isfinite(rps)) on_rps_(rps);
  });
}

}  // namespace iommuvm::agent
