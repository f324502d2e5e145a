#pragma once
// The API's state enums by their short names: RUN_STATE_SUCCEEDED is
// "SUCCEEDED". These are what the CLI prints and the controller's database
// stores, spelled once, in controller.proto.

#include <optional>

#include "absl/strings/string_view.h"
#include "google/protobuf/generated_enum_reflection.h"
#include "iommuvm/v1/controller.pb.h"

namespace iommuvm {
namespace state_names_internal {
absl::string_view ShortName(const google::protobuf::EnumDescriptor* d, int value);
std::optional<int> ParseShortName(const google::protobuf::EnumDescriptor* d,
                                  absl::string_view name);
}  // namespace state_names_internal

// "SUCCEEDED" for RUN_STATE_SUCCEEDED; "UNKNOWN" for a value this build
// does not know (a newer controller).
template <typename E>
absl::string_view StateName(E value) {
  return state_names_internal::ShortName(google::protobuf::GetEnumDescriptor<E>(),
                                         static_cast<int>(value));
}

// The inverse of StateName; nullopt for unknown names and for UNSPECIFIED.
template <typename E>
std::optional<E> ParseStateName(absl::string_view name) {
  auto v = state_names_internal::ParseShortName(google::protobuf::GetEnumDescriptor<E>(), name);
  if (!v) return std::nullopt;
  return static_cast<E>(*v);
}

}  // namespace iommuvm
