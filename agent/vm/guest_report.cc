#include "agent/vm/guest_report.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/json_object.h"

namespace iommuvm::agent {
namespace {

std::string Tail(const std::string& text) {
  std::string t(absl::StripAsciiWhitespace(text));
  return t.size() > 400 ? t.substr(t.size() - 400) : t;
}

}  // namespace

absl::StatusOr<GuestReport> ParseGuestReport(const std::string& console) {
  if (console.find(kGuestUpMarker) == std::string::npos) {
    return absl::UnavailableError(
        absl::StrCat("the guest never reached its init; console: ", Tail(console)));
  }
  size_t begin = console.find(kInspectBeginMarker);
  size_t end = console.find(kInspectEndMarker);
  if (begin == std::string::npos || end == std::string::npos || end < begin) {
    return absl::UnavailableError(absl::StrCat(
        "the guest's inspect report is missing or cut short; console: ", Tail(console)));
  }
  std::string json = console.substr(begin + sizeof(kInspectBeginMarker) - 1,
                                    end - begin - (sizeof(kInspectBeginMarker) - 1));
  auto parsed = ParseJsonObject(json);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("the guest's inspect report is not JSON (",
                                                   parsed.status().message(), "): ", Tail(json)));
  }
  const google::protobuf::Struct& doc = *parsed;
  GuestReport r;
  r.requested_mode = JsonString(doc, "requested_mode");
  r.detected_mode = JsonString(doc, "detected_mode");
  r.cmdline = JsonString(doc, "cmdline");
  if (const google::protobuf::Struct* dp = JsonObject(doc, "data_plane")) {
    r.data_nic = JsonString(*dp, "nic");
    r.data_group = JsonString(*dp, "iommu_group");
    r.data_group_type = JsonString(*dp, "group_type");
  }
  r.iommu_units = JsonStrings(doc, "iommu_units");
  r.warnings = JsonStrings(doc, "warnings");
  if (const google::protobuf::Struct* inv = JsonObject(doc, "inventory")) {
    r.kernel_release = JsonString(*inv, "kernel_release");
  }
  if (r.detected_mode.empty()) {
    return absl::InvalidArgumentError("the guest's inspect report has no detected_mode");
  }
  return r;
}

}  // namespace iommuvm::agent
