#include "common/json_object.h"

#include <google/protobuf/util/json_util.h>

namespace iommuvm {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

const Value* Member(const Struct& s, const std::string& key, Value::KindCase kind) {
  auto it = s.fields().find(key);
  return it != s.fields().end() && it->second.kind_case() == kind ? &it->second : nullptr;
}

}  // namespace

absl::StatusOr<Struct> ParseJsonObject(const std::string& text) {
  Struct doc;
  auto parsed = google::protobuf::util::JsonStringToMessage(text, &doc);
  if (!parsed.ok()) return absl::InvalidArgumentError(std::string(parsed.message()));
  return doc;
}

const Struct* JsonObject(const Struct& s, const std::string& key) {
  const Value* v = Member(s, key, Value::kStructValue);
  return v ? &v->struct_value() : nullptr;
}

std::optional<double> JsonNumber(const Struct& s, const std::string& key) {
  const Value* v = Member(s, key, Value::kNumberValue);
  return v ? std::optional<double>(v->number_value()) : std::nullopt;
}

std::optional<bool> JsonBool(const Struct& s, const std::string& key) {
  const Value* v = Member(s, key, Value::kBoolValue);
  return v ? std::optional<bool>(v->bool_value()) : std::nullopt;
}

std::string JsonString(const Struct& s, const std::string& key) {
  const Value* v = Member(s, key, Value::kStringValue);
  return v ? v->string_value() : "";
}

std::vector<std::string> JsonStrings(const Struct& s, const std::string& key) {
  std::vector<std::string> out;
  const Value* v = Member(s, key, Value::kListValue);
  if (v == nullptr) return out;
  for (const Value& e : v->list_value().values()) {
    if (e.kind_case() == Value::kStringValue) out.push_back(e.string_value());
  }
  return out;
}

}  // namespace iommuvm
