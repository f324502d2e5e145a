#include "agent/workload/memcaslap_parser.h"

#include <cmath>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/terminal_text.h"

namespace iommuvm::agent {
namespace {

struct Block {
  uint64_t events = 0;
  double min = 0, max = 0, avg = 0;
  // k -> events with latency in (2^(k-1), 2^k] µs: memaslap files an event
  // under the smallest k with 2^k >= latency.
  std::map<int, uint64_t> buckets;
};

// The latency below which a fraction `q` of events fall.
double Percentile(const Block& b, double q) {
  uint64_t total = 0;
  for (const auto& [k, n] : b.buckets) total += n;
  if (total == 0) return 0;
  double target = q * static_cast<double>(total);
  double seen = 0;
  for (const auto& [k, n] : b.buckets) {
    if (n == 0) continue;
    if (seen + static_cast<double>(n) >= target) {
      double lo = k > 0 ? std::ldexp(1.0, k - 1) : 0, hi = std::ldexp(1.0, k);
      double v = lo + (hi - lo) * (target - seen) / static_cast<double>(n);
      return std::min(std::max(v, b.min), b.max);
    }
    seen += static_cast<double>(n);
  }
  return b.max;
}

}  // namespace

void MemcaslapProgress::Feed(absl::string_view chunk) {
  lines_.Feed(chunk, [this](absl::string_view raw) {
    std::string line = StripTerminalEscapes(raw);
    absl::string_view t = absl::StripAsciiWhitespace(line);
    if (absl::StartsWith(t, "Total Statistics") && !absl::EndsWith(t, "events)")) {
      in_total_ = true;
    } else if (t.empty()) {
      in_total_ = false;
    } else if (in_total_ && absl::StartsWith(t, "Period")) {
      // "Period   1   139053   139053   144.3 ...": Type Time Ops TPS ...
      std::vector<absl::string_view> w = absl::StrSplit(t, ' ', absl::SkipEmpty());
      double tps = 0;
      if (w.size() > 3 && absl::SimpleAtod(w[3], &tps)) on_tps_(tps);
    }
  });
}

absl::StatusOr<std::vector<v1::OperationResult>> ParseMemcaslap(const std::string& raw) {
  std::string text = StripTerminalEscapes(raw);
  std::map<std::string, Block> blocks;  // "Get", "Set", "Total"
  Block* current = nullptr;
  bool in_dist = false;
  double run_time = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    absl::string_view t = absl::StripAsciiWhitespace(line);
    // "Get Statistics (251478 events)" starts a final block.
    if (absl::StrContains(t, " Statistics (") && absl::EndsWith(t, " events)")) {
      std::string name(t.substr(0, t.find(' ')));
      current = &blocks[name];
      size_t open = t.find('(');
      (void)absl::SimpleAtoi(t.substr(open + 1, t.find(' ', open) - open - 1), &current->events);
      in_dist = false;
      continue;
    }
    if (absl::StartsWith(t, "Run time:")) {
      // "Run time: 3.0s Ops: 359615 TPS: 119862 Net_rate: 24.2M/s"
      std::vector<absl::string_view> w = absl::StrSplit(t, ' ', absl::SkipEmpty());
      if (w.size() >= 3) {
        absl::string_view secs = w[2];
        absl::ConsumeSuffix(&secs, "s");
        (void)absl::SimpleAtod(secs, &run_time);
      }
      current = nullptr;
      continue;
    }
    if (current == nullptr) continue;
    if (t.empty()) {
      current = nullptr;
      continue;
    }
    if (absl::StartsWith(t, "Log2 Dist:")) {
      in_dist = true;
      continue;
    }
    std::vector<absl::string_view> w = absl::StrSplit(t, ' ', absl::SkipEmpty());
    if (w.size() < 2 || !absl::EndsWith(w[0], ":")) continue;
    absl::string_view label = w[0].substr(0, w[0].size() - 1);
    if (in_dist) {
      // "4:      197     3013    17936     3544" = buckets 4, 5, 6, 7.
      int base = 0;
      if (!absl::SimpleAtoi(label, &base)) continue;
      for (size_t i = 1; i < w.size(); ++i) {
        uint64_t n = 0;
        if (absl::SimpleAtoi(w[i], &n)) current->buckets[base + static_cast<int>(i) - 1] = n;
      }
      continue;
    }
    double v = 0;
    if (!absl::SimpleAtod(w[1], &v)) continue;
    if (label == "Min") current->min = v;
    if (label == "Max") current->max = v;
    if (label == "Avg") current->avg = v;
  }
  if (blocks.empty() || run_time <= 0) {
    std::string said(absl::StripAsciiWhitespace(text));
    return absl::UnavailableError(absl::StrCat(
        "memcaslap reported no statistics (is the server reachable?): ",
        said.size() > 300 ? said.substr(said.size() - 300) : said));
  }
  std::vector<v1::OperationResult> out;
  for (const auto& [name, op] : {std::pair{"Get", "GET"}, std::pair{"Set", "SET"}}) {
    auto it = blocks.find(name);
    if (it == blocks.end() || it->second.events == 0) continue;
    const Block& b = it->second;
    v1::OperationResult r;
    r.set_operation(op);
    r.set_requests(b.events);
    r.set_duration_s(run_time);
    r.set_throughput_ops(static_cast<double>(b.events) / run_time);
    r.set_latency_mean_us(b.avg);
    r.set_latency_min_us(b.min);
    r.set_latency_max_us(b.max);
    r.set_latency_p50_us(Percentile(b, 0.50));
    r.set_latency_p90_us(Percentile(b, 0.90));
    r.set_latency_p95_us(Percentile(b, 0.95));
    r.set_latency_p99_us(Percentile(b, 0.99));
    r.set_latency_p999_us(Percentile(b, 0.999));
    out.push_back(std::move(r));
  }
  if (out.empty()) return absl::UnavailableError("memcaslap finished without a single operation");
  return out;
}

}  // namespace iommuvm::agent
