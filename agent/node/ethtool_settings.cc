#include "agent/node/ethtool_settings.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace iommuvm::agent {
namespace {

// "RX:\t\t1024" -> ("RX", "1024"); false for headers and blank lines.
bool LabelValue(absl::string_view line, std::string* label, std::string* value) {
  size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return false;
  *label = std::string(absl::StripAsciiWhitespace(line.substr(0, colon)));
  *value = std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  return !label->empty() && !value->empty();
}

}  // namespace

EthtoolLimits ParseEthtoolLimits(const std::string& text) {
  EthtoolLimits out;
  std::map<std::string, uint32_t>* section = nullptr;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, "Pre-set maximums")) {
      section = &out.max;
      continue;
    }
    if (absl::StartsWith(line, "Current hardware settings")) {
      section = &out.current;
      continue;
    }
    std::string label, value;
    uint32_t n = 0;
    if (section == nullptr || !LabelValue(line, &label, &value)) continue;
    if (absl::SimpleAtoi(value, &n) && n > 0) (*section)[label] = n;
  }
  return out;
}

std::map<std::string, bool> ParseEthtoolPause(const std::string& text) {
  std::map<std::string, bool> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::string label, value;
    if (!LabelValue(line, &label, &value)) continue;
    if (value == "on" || value == "off") out[label] = value == "on";
  }
  return out;
}

std::map<std::string, EthtoolFeature> ParseEthtoolFeatures(const std::string& text) {
  std::map<std::string, EthtoolFeature> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::string label, value;
    if (!LabelValue(line, &label, &value)) continue;
    EthtoolFeature f;
    if (absl::StartsWith(value, "on")) {
      f.on = true;
    } else if (!absl::StartsWith(value, "off")) {
      continue;
    }
    f.fixed = absl::StrContains(value, "[fixed]");
    out[label] = f;
  }
  return out;
}

std::string EthtoolFeatureName(const std::string& offload) {
  if (offload == "tso") return "tcp-segmentation-offload";
  if (offload == "gro") return "generic-receive-offload";
  if (offload == "lro") return "large-receive-offload";
  return "";
}

}  // namespace iommuvm::agent
