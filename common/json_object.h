#pragma once
// Members of JSON documents other programs write (memtier_benchmark's
// result file, the guest's inspect report), read through protobuf's Struct.
// A member that is absent or of another type reads as absent.

#include <google/protobuf/struct.pb.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace iommuvm {

// The document (a JSON object), or InvalidArgument with the parser's words.
absl::StatusOr<google::protobuf::Struct> ParseJsonObject(const std::string& text);

const google::protobuf::Struct* JsonObject(const google::protobuf::Struct& s,
                                           const std::string& key);
std::optional<double> JsonNumber(const google::protobuf::Struct& s, const std::string& key);
std::optional<bool> JsonBool(const google::protobuf::Struct& s, const std::string& key);
// "" when absent.
std::string JsonString(const google::protobuf::Struct& s, const std::string& key);
// The string elements of an array member (others skipped).
std::vector<std::string> JsonStrings(const google::protobuf::Struct& s, const std::string& key);

}  // namespace iommuvm
