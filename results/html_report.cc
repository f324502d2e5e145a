#include "results/html_report.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/xml.h"
#include "proto/state_names.h"
#include "spec/spec.h"

namespace iommuvm::results {
namespace {

constexpr char kStyle[] = R"css(
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f2f2f2; }
td.text, th.text { text-align: left; }
.sig { font-weight: bold; }
.muted { color: #777; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; }
)css";

std::string Fixed(double v, int digits) { return absl::StrFormat("%.*f", digits, v); }

std::string Cell(const std::string& text, bool is_text = false) {
  return absl::StrCat(is_text ? "<td class=\"text\">" : "<td>", HtmlEscape(text), "</td>");
}

// Cell's text appended to `h`: the runs table of 100k rows is built
// without two strings per cell.
void AppendCell(std::string* h, absl::string_view text, bool is_text = false) {
  h->append(is_text ? "<td class=\"text\">" : "<td>");
  AppendMarkupEscaped(h, text);
  h->append("</td>");
}

std::string Mean(const Summary& s, int digits) {
  return absl::StrCat(Fixed(s.mean, digits),
                      s.ci_half ? absl::StrCat(" ± ", Fixed(*s.ci_half, digits)) : "");
}

std::string ChangeText(const ComparisonRow& r) {
  if (r.is_baseline) return "baseline";
  if (!r.change) return "";
  std::string text = absl::StrFormat("%+.1f%%", r.change->percent);
  if (r.change->low) {
    absl::StrAppend(&text, absl::StrFormat(" [%+.1f, %+.1f]", *r.change->low, *r.change->high));
  }
  return text;
}

// Horizontal bars of each mode's mean with its interval as a whisker.
std::string BarChart(const std::vector<const ComparisonRow*>& modes, const std::string& unit) {
  constexpr int kLabel = 110, kWidth = 420, kBar = 22, kGap = 8;
  double top = 0;
  for (const ComparisonRow* r : modes) {
    top = std::max(top, r->summary.mean + r->summary.ci_half.value_or(0));
  }
  if (top <= 0) top = 1;
  int height = static_cast<int>(modes.size()) * (kBar + kGap) + kGap;
  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\">"
      "<title>%s by IOMMU mode</title>",
      kLabel + kWidth + 120, height, HtmlEscape(unit));
  int y = kGap;
  for (const ComparisonRow* r : modes) {
    auto x_of = [&](double v) {
      return kLabel + static_cast<int>(kWidth * std::max(0.0, v) / top);
    };
    absl::StrAppend(
        &svg,
        absl::StrFormat("<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"12\">%s</text>"
                        "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>",
                        kLabel - 6, y + kBar - 7, HtmlEscape(r->mode), kLabel, y,
                        std::max(1, x_of(r->summary.mean) - kLabel), kBar,
                        r->is_baseline ? "#8da0cb" : "#66c2a5"));
    if (r->summary.ci_half) {
      int lo = x_of(r->summary.mean - *r->summary.ci_half);
      int hi = x_of(r->summary.mean + *r->summary.ci_half);
      int mid = y + kBar / 2;
      absl::StrAppend(
          &svg,
          absl::StrFormat("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#222\"/>"
                          "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#222\"/>"
                          "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#222\"/>",
                          lo, mid, hi, mid, lo, mid - 5, lo, mid + 5, hi, mid - 5, hi, mid + 5));
    }
    absl::StrAppend(&svg, absl::StrFormat("<text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>",
                                          kLabel + kWidth + 6, y + kBar - 7,
                                          HtmlEscape(Fixed(r->summary.mean, 0))));
    y += kBar + kGap;
  }
  return svg + "</svg>";
}

}  // namespace

std::string HtmlEscape(const std::string& text) { return MarkupEscape(text); }

std::string RenderHtmlReport(const ReportInput& in) {
  const v1::Experiment& e = in.experiment;
  CompareOptions throughput_opts, gbps_opts, p99_opts;
  gbps_opts.metric = "gbps";
  p99_opts.metric = "p99";
  // Simulated runs are shown, under a banner that says what they are.
  bool simulated = false;
  for (const auto& r : in.rows) simulated = simulated || r.simulated();
  throughput_opts.allow_simulated = gbps_opts.allow_simulated = p99_opts.allow_simulated =
      simulated;
  auto throughput = Compare(in.rows, throughput_opts);
  // Bulk tools (iperf3) move bytes, not requests: their groups show Gbit/s.
  auto gbps = Compare(in.rows, gbps_opts);
  auto p99 = Compare(in.rows, p99_opts);
  std::string title = absl::StrCat("iommuvm experiment ", e.id(), ": ", e.name());
  std::string h = absl::StrCat(
      "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>"
      "<meta charset=\"utf-8\"/><title>",
      HtmlEscape(title), "</title><style>", kStyle, "</style></head>\n<body>\n<h1>",
      HtmlEscape(title), "</h1>\n<p>State ", HtmlEscape(std::string(StateName(e.state()))), ": ", e.runs_succeeded(),
      " of ", e.runs_total(), " runs succeeded, ", e.runs_failed(), " failed, ", e.runs_cancelled(),
      " cancelled. Spec sha256 <code>", HtmlEscape(e.spec_sha256()), "</code>. Generated ",
      HtmlEscape(in.generated_at), ".</p>\n");
  if (simulated) {
    absl::StrAppend(&h,
                    "<p class=\"simulated\"><strong>SIMULATED:</strong> runs of this experiment "
                    "ran on simulated nodes (--simulate_boot). Their IOMMU modes were generated, "
                    "not run by a kernel: the numbers below say nothing about what a mode "
                    "costs.</p>\n");
  }

  absl::StrAppend(&h,
                  "<h2>What each IOMMU mode costs</h2>\n<p class=\"muted\">Means over the "
                  "repetitions with 95% Student-t intervals; changes against the first of "
                  "off, passthrough, lazy, strict present, with intervals by the delta method on "
                  "the log of the ratio. "
                  "<span class=\"sig\">Bold</span>: the interval excludes 0. Only succeeded "
                  "runs count; runs in mode current count under their verified mode.</p>\n");
  if (throughput.ok() && gbps.ok() && p99.ok()) {
    // Group the rows (same order in all comparisons: same rows, same groups).
    std::map<std::tuple<std::string, std::string, std::string, std::string>,
             std::vector<std::pair<const ComparisonRow*, const ComparisonRow*>>>
        groups;
    std::map<std::tuple<std::string, std::string, std::string, std::string>, bool> bulk;
    for (size_t i = 0; i < throughput->size() && i < gbps->size() && i < p99->size(); ++i) {
      const ComparisonRow& t = (*throughput)[i];
      std::tuple<std::string, std::string, std::string, std::string> key{t.workload, t.vm, t.params,
                                                                         t.operation};
      bool no_ops = t.summary.mean == 0 && (*gbps)[i].summary.mean > 0;
      bulk.emplace(key, true);
      bulk[key] = bulk[key] && no_ops;
      groups[key].push_back({&t, &(*p99)[i]});
    }
    for (auto& [key, modes] : groups) {
      if (bulk[key]) {  // the same rows of the Gbit/s comparison
        for (auto& m : modes) m.first = &(*gbps)[m.first - throughput->data()];
      }
    }
    for (const auto& [key, modes] : groups) {
      const auto& [workload, vm, params, op] = key;
      std::string unit = bulk[key] ? "Gbit/s" : "ops/s";
      int digits = bulk[key] ? 2 : 0;
      absl::StrAppend(&h, "<h3>", HtmlEscape(workload), " — ", HtmlEscape(op), " (", HtmlEscape(vm),
                      params.empty() ? "" : ", ", HtmlEscape(params), ")</h3>\n");
      std::vector<const ComparisonRow*> bars;
      for (const auto& m : modes) bars.push_back(m.first);
      absl::StrAppend(&h, "<div>", BarChart(bars, absl::StrCat("throughput (", unit, ")")),
                      "</div>\n");
      absl::StrAppend(&h,
                      "<table><tr><th class=\"text\">mode</th><th>n</th>"
                      "<th>throughput (",
                      unit,
                      ")</th><th>change</th><th>p99 (µs)</th>"
                      "<th>change</th><th class=\"text\">bottleneck</th></tr>\n");
      for (const auto& [t, p] : modes) {
        auto change_cell = [](const ComparisonRow& r) {
          bool sig = r.change && r.change->significant();
          return absl::StrCat(sig ? "<td class=\"sig\">" : "<td>", HtmlEscape(ChangeText(r)),
                              "</td>");
        };
        std::string n = absl::StrCat(t->summary.n);
        if (t->unsteady > 0) absl::StrAppend(&n, " (", t->unsteady, " unsteady)");
        absl::StrAppend(&h, "<tr>", Cell(t->mode, true), Cell(n), Cell(Mean(t->summary, digits)),
                        change_cell(*t), Cell(Mean(p->summary, 1)), change_cell(*p),
                        Cell(t->bottleneck, true), "</tr>\n");
      }
      absl::StrAppend(&h, "</table>\n");
      std::vector<ComparisonRow> group_rows;
      for (const auto& m : modes) group_rows.push_back(*m.first);
      for (const std::string& w : BottleneckWarnings(group_rows)) {
        absl::StrAppend(&h, "<p class=\"simulated\">Warning: ", HtmlEscape(w), "</p>\n");
      }
    }
    if (groups.empty()) absl::StrAppend(&h, "<p>No succeeded runs yet.</p>\n");
  }

  absl::StrAppend(&h,
                  "<h2>Runs</h2>\n<table><tr><th>run</th><th class=\"text\">iommu</th>"
                  "<th class=\"text\">verified</th><th class=\"text\">workload</th>"
                  "<th class=\"text\">vm</th><th>rep</th><th class=\"text\">op</th>"
                  "<th>throughput</th><th>p50 (µs)</th><th>p99 (µs)</th><th>server CPU %</th>"
                  "<th class=\"text\">state</th><th class=\"text\">error</th>"
                  "<th class=\"text\">unsteady</th><th class=\"text\">bottleneck</th></tr>\n");
  h.reserve(h.size() + in.rows.size() * 320);
  for (const v1::ResultRow& r : in.rows) {
    bool has = r.has_result();
    h.append("<tr>");
    AppendCell(&h, absl::StrCat(r.run_index()));
    AppendCell(&h, iommu::IommuModeName(r.iommu()), true);
    AppendCell(&h, r.detected_mode(), true);
    AppendCell(&h, r.workload(), true);
    AppendCell(&h, r.vm(), true);
    AppendCell(&h, absl::StrCat(r.repetition()));
    AppendCell(&h, has ? r.result().operation() : "", true);
    AppendCell(&h, has ? Fixed(r.result().throughput_ops(), 0) : "");
    AppendCell(&h, has ? Fixed(r.result().latency_p50_us(), 1) : "");
    AppendCell(&h, has ? Fixed(r.result().latency_p99_us(), 1) : "");
    AppendCell(&h, Fixed(r.server_cpu_utilization() * 100, 1));
    AppendCell(&h, StateName(r.state()), true);
    AppendCell(&h, r.error(), true);
    AppendCell(&h, r.unsteady(), true);
    AppendCell(&h,
               r.bottleneck().empty()
                   ? ""
                   : absl::StrCat(r.bottleneck(), " (", r.bottleneck_evidence(), ")"),
               true);
    h.append("</tr>\n");
  }
  absl::StrAppend(&h, "</table>\n<h2>Spec</h2>\n<pre>", HtmlEscape(e.spec_yaml()),
                  "</pre>\n</body>\n</html>\n");
  return h;
}

}  // namespace iommuvm::results
