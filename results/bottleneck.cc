#include "results/bottleneck.h"

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace iommuvm::results {
namespace {

std::string Percent(double share) { return absl::StrCat(std::lround(share * 100), "%"); }

}  // namespace

Bottleneck JudgeBottleneck(const BottleneckInputs& in) {
  std::vector<std::string> parts;
  if (in.link) {
    parts.push_back(in.link_gbps
                        ? absl::StrFormat("link %s of %g Gbit/s", Percent(*in.link), *in.link_gbps)
                        : absl::StrCat("link ", Percent(*in.link)));
  } else {
    parts.push_back("link not measured (no speed)");
  }
  std::string server = in.server_pinned ? "server cores" : "server node";
  parts.push_back(in.server_cpu ? absl::StrCat(server, " ", Percent(*in.server_cpu))
                                : "server CPU not measured");
  parts.push_back(in.generator ? absl::StrCat("generator ", Percent(*in.generator))
                               : "generator not measured");
  Bottleneck b;
  b.evidence = absl::StrJoin(parts, ", ");
  if (in.link && *in.link >= kLinkSaturated) {
    b.verdict = "link";
  } else if (in.server_cpu && *in.server_cpu >= kCpuSaturated) {
    b.verdict = "server-cpu";
  } else if (in.generator && *in.generator >= kCpuSaturated) {
    b.verdict = "client-cpu";
  } else if (in.link && in.server_cpu && in.generator) {
    b.verdict = "none";
  } else {
    b.verdict = "unknown";
  }
  return b;
}

}  // namespace iommuvm::results
