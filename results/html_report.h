#pragma once
// `iommuvm report`: one self-contained HTML file (no scripts, no external
// resources; well-formed XHTML) for an experiment: what each IOMMU mode
// costs per workload with confidence intervals, drawn as bars with interval
// whiskers, every run with its verified mode, and the spec it ran.

#include <string>
#include <vector>

#include "iommuvm/v1/controller.pb.h"
#include "results/comparison.h"

namespace iommuvm::results {

struct ReportInput {
  v1::Experiment experiment;  // with runs and spec_yaml
  std::vector<v1::ResultRow> rows;
  std::string generated_at;  // shown in the header
};

// The report; comparison rows are computed here (throughput and p99).
std::string RenderHtmlReport(const ReportInput& input);

// `text` with &, <, >, " and ' escaped for HTML text and attributes.
std::string HtmlEscape(const std::string& text);

}  // namespace iommuvm::results
