#pragma once
// Typed, position-aware access to a YAML mapping. Every problem becomes a
// SpecError with line:column and key path; reading continues so all errors
// in a file are reported at once. Unknown keys get a "did you mean".

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/closest_match.h"
#include "spec/spec_error.h"

namespace iommuvm::spec {

class MapReader {
 public:
  // `node` must be a mapping (an error is recorded otherwise).
  MapReader(const YAML::Node& node, std::string path, SpecErrors* errors);
  // Reports keys that were never asked for. Call once after all reads.
  ~MapReader();

  bool valid() const { return valid_; }
  const std::string& path() const { return path_; }
  // The child node for `key` (marked as known), or an undefined node.
  YAML::Node Child(const std::string& key);
  std::string ChildPath(const std::string& key) const;
  // Declares a key as known without reading it.
  void Known(const std::string& key) { known_.insert(key); }

  void String(const std::string& key, std::string* out, bool required = false);
  // Exactly `true` or `false`.
  void Bool(const std::string& key, bool* out);
  void UInt32(const std::string& key, uint32_t* out, uint32_t min, uint32_t max);
  void UInt64(const std::string& key, uint64_t* out, uint64_t min, uint64_t max);
  void Duration(const std::string& key, absl::Duration* out, absl::Duration min);
  void Size(const std::string& key, uint64_t* out, uint64_t min, uint64_t max);
  // A list of strings; each must be in `allowed` when it is non-empty.
  void StringList(const std::string& key, std::vector<std::string>* out,
                  const std::vector<std::string>& allowed = {}, bool required = false);
  void StringMap(const std::string& key, std::map<std::string, std::string>* out);

  // Records an error at `node` (or at this mapping when `node` is undefined).
  void Error(const YAML::Node& node, const std::string& key_path, const std::string& msg);

 private:
  YAML::Node node_;
  std::string path_;
  SpecErrors* errors_;
  bool valid_ = true;
  std::set<std::string> known_;
};

// Appends an error located at `node`.
void AddError(SpecErrors* errors, const YAML::Node& node, const std::string& key_path,
              const std::string& message);
// An error at `key_path` ("nodes.pairs[0].server") of `yaml`, located at
// that key's value when it exists (for checks made after parsing, such as
// against the controller's registered nodes).
SpecError ErrorAt(const std::string& yaml, const std::string& key_path, const std::string& message);
// Human description of what a node is ("a list", "the string 'x'").
std::string Describe(const YAML::Node& node);

}  // namespace iommuvm::spec
