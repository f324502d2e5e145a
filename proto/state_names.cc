#include "proto/state_names.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace iommuvm::state_names_internal {
namespace {

// Every API enum names its zero value <PREFIX>UNSPECIFIED.
absl::string_view Prefix(const google::protobuf::EnumDescriptor* d) {
  const std::string& zero = d->FindValueByNumber(0)->name();
  absl::string_view prefix = zero;
  prefix.remove_suffix(absl::string_view("UNSPECIFIED").size());
  return prefix;
}

}  // namespace

absl::string_view ShortName(const google::protobuf::EnumDescriptor* d, int value) {
  const google::protobuf::EnumValueDescriptor* v = d->FindValueByNumber(value);
  if (v == nullptr) return "UNKNOWN";
  absl::string_view name = v->name();
  name.remove_prefix(Prefix(d).size());
  return name;
}

std::optional<int> ParseShortName(const google::protobuf::EnumDescriptor* d,
                                  absl::string_view name) {
  const google::protobuf::EnumValueDescriptor* v =
      d->FindValueByName(absl::StrCat(Prefix(d), name));
  if (v == nullptr || v->number() == 0) return std::nullopt;
  return v->number();
}

}  // namespace iommuvm::state_names_internal
