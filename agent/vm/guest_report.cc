#include "agent/vm/guest_report.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace iommuvm::agent {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

std::string Text(const Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it != s.fields().end() && it->second.kind_case() == Value::kStringValue
             ? it->second.string_value()
             : "";
}

const Struct* Child(const Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it != s.fields().end() && it->second.kind_case() == Value::kStructValue
             ? &it->second.struct_value()
             : nullptr;
}

std::vector<std::string> Texts(const Struct& s, const std::string& key) {
  std::vector<std::string> out;
  auto it = s.fields().find(key);
  if (it == s.fields().end() || it->second.kind_case() != Value::kListValue) return out;
  for (const Value& v : it->second.list_value().values()) {
    if (v.kind_case() == Value::kStringValue) out.push_back(v.string_value());
  }
  return out;
}

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
  Struct doc;
  auto parsed = google::protobuf::util::JsonStringToMessage(json, &doc);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the guest's inspect report is not JSON (", std::string(parsed.message()), "): ",
        Tail(json)));
  }
  GuestReport r;
  r.requested_mode = Text(doc, "requested_mode");
  r.detected_mode = Text(doc, "detected_mode");
  r.cmdline = Text(doc, "cmdline");
  if (const Struct* dp = Child(doc, "data_plane")) {
    r.data_nic = Text(*dp, "nic");
    r.data_group = Text(*dp, "iommu_group");
    r.data_group_type = Text(*dp, "group_type");
  }
  r.iommu_units = Texts(doc, "iommu_units");
  r.warnings = Texts(doc, "warnings");
  if (const Struct* inv = Child(doc, "inventory")) r.kernel_release = Text(*inv, "kernel_release");
  if (r.detected_mode.empty()) {
    return absl::InvalidArgumentError("the guest's inspect report has no detected_mode");
  }
  return r;
}

}  // namespace iommuvm::agent
