#include "spec/yaml_reader.h"

#include <algorithm>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "common/units.h"

namespace iommuvm::spec {

void AddError(SpecErrors* errors, const YAML::Node& node, const std::string& key_path,
              const std::string& message) {
  SpecError e;
  if (node.IsDefined()) {
    YAML::Mark mark = node.Mark();
    if (mark.line >= 0) {
      e.line = mark.line + 1;
      e.column = mark.column + 1;
    }
  }
  e.key_path = key_path;
  e.message = message;
  errors->push_back(std::move(e));
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    default:
      return "nothing";
  }
}

MapReader::MapReader(const YAML::Node& node, std::string path, SpecErrors* errors)
    : node_(node), path_(std::move(path)), errors_(errors) {
  if (!node_.IsMap()) {
    valid_ = false;
    AddError(errors_, node_, path_,
             "expected a mapping of keys to values, found " + Describe(node_));
  }
}

MapReader::~MapReader() {
  if (!valid_) return;
  std::vector<std::string> known(known_.begin(), known_.end());
  for (const auto& kv : node_) {
    std::string key = kv.first.as<std::string>("");
    if (known_.count(key)) continue;
    std::string msg = "unknown key '" + key + "'";
    std::string suggestion = ClosestMatch(key, known);
    if (!suggestion.empty()) {
      msg += "; did you mean '" + suggestion + "'?";
    } else {
      msg += "; allowed keys: " + absl::StrJoin(known, ", ");
    }
    AddError(errors_, kv.first, ChildPath(key), msg);
  }
}

std::string MapReader::ChildPath(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

YAML::Node MapReader::Child(const std::string& key) {
  known_.insert(key);
  if (!valid_) return YAML::Node(YAML::NodeType::Undefined);
  // Search without operator[] so a missing key does not insert a null.
  for (const auto& kv : node_) {
    if (kv.first.as<std::string>("") == key) return kv.second;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

void MapReader::Error(const YAML::Node& node, const std::string& key_path, const std::string& msg) {
  AddError(errors_, node.IsDefined() ? node : node_, key_path, msg);
}

void MapReader::String(const std::string& key, std::string* out, bool required) {
  YAML::Node n = Child(key);
  if (!n.IsDefined()) {
    if (required && valid_) Error(node_, ChildPath(key), "required key is missing");
    return;
  }
  if (!n.IsScalar() || n.Scalar().empty()) {
    Error(n, ChildPath(key), "expected a non-empty string, found " + Describe(n));
    return;
  }
  *out = n.Scalar();
}

void MapReader::Bool(const std::string& key, bool* out) {
  YAML::Node n = Child(key);
  if (!n.IsDefined()) return;
  if (n.IsScalar() && (n.Scalar() == "true" || n.Scalar() == "false")) {
    *out = n.Scalar() == "true";
    return;
  }
  Error(n, ChildPath(key), "expected true or false, found " + Describe(n));
}

void MapReader::UInt64(const std::string& key, uint64_t* out, uint64_t min, uint64_t max) {
  YAML::Node n = Child(key);
  if (!n.IsDefined()) return;
  uint64_t v = 0;
  if (!n.IsScalar() || !absl::SimpleAtoi(n.Scalar(), &v) || v < min || v > max) {
    Error(n, ChildPath(key),
          "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) +
              ", found " + Describe(n));
    return;
  }
  *out = v;
}

void MapReader::UInt32(const std::string& key, uint32_t* out, uint32_t min, uint32_t max) {
  uint64_t v = *out;
  UInt64(key, &v, min, max);
  *out = static_cast<uint32_t>(v);
}

void MapReader::Duration(const std::string& key, absl::Duration* out, absl::Duration min) {
  YAML::Node n = Child(key);
  if (!n.IsDefined()) return;
  if (!n.IsScalar()) {
    Error(n, ChildPath(key), "expected a duration such as 30s or 5m, found " + Describe(n));
    return;
  }
  auto d = ParseDuration(n.Scalar());
  if (!d.ok()) {
    Error(n, ChildPath(key), std::string(d.status().message()));
    return;
  }
  if (*d < min) {
    Error(n, ChildPath(key), "must be at least " + SpecDuration(min) + ", found " + Describe(n));
    return;
  }
  *out = *d;
}

void MapReader::Size(const std::string& key, uint64_t* out, uint64_t min, uint64_t max) {
  YAML::Node n = Child(key);
  if (!n.IsDefined()) return;
  if (!n.IsScalar()) {
    Error(n, ChildPath(key), "expected a size such as 64, 4KiB or 16GiB, found " + Describe(n));
    return;
  }
  auto s = ParseSize(n.Scalar());
  if (!s.ok()) {
    Error(n, ChildPath(key), std::string(s.status().message()));
    return;
  }
  if (*s < min || *s > max) {
    Error(n, ChildPath(key),
          "must be between " + std::to_string(min) + " and " + std::to_string(max) +
              " bytes, found " + Describe(n));
    return;
  }
  *out = *s;
}

void MapReader::StringList(const std::string& key, std::vector<std::string>* out,
                           const std::vector<std::string>& allowed, bool required) {
  YAML::Node n = Child(key);
  if (!n.IsDefined()) {
    if (required && valid_) Error(node_, ChildPath(key), "required key is missing");
    return;
  }
  // A single scalar is a one-element list. (yaml-cpp nodes have reference
  // semantics, so items are collected rather than rebuilding the node.)
  std::vector<YAML::Node> items;
  if (n.IsScalar()) {
    items.push_back(n);
  } else if (n.IsSequence() && n.size() > 0) {
    for (size_t i = 0; i < n.size(); ++i) items.push_back(n[i]);
  } else {
    Error(n, ChildPath(key), "expected a non-empty list, found " + Describe(n));
    return;
  }
  std::vector<std::string> values;
  for (size_t i = 0; i < items.size(); ++i) {
    const YAML::Node& item = items[i];
    std::string item_path =
        n.IsScalar() ? ChildPath(key) : ChildPath(key) + "[" + std::to_string(i) + "]";
    if (!item.IsScalar()) {
      Error(item, item_path, "expected a string, found " + Describe(item));
      continue;
    }
    const std::string& v = item.Scalar();
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
      std::string msg = "'" + v + "' is not allowed; allowed: " + absl::StrJoin(allowed, ", ");
      std::string suggestion = ClosestMatch(v, allowed);
      if (!suggestion.empty()) msg += " (did you mean '" + suggestion + "'?)";
      Error(item, item_path, msg);
      continue;
    }
    if (std::find(values.begin(), values.end(), v) != values.end()) {
      Error(item, item_path, "'" + v + "' is listed twice");
      continue;
    }
    values.push_back(v);
  }
  *out = std::move(values);
}

void MapReader::StringMap(const std::string& key, std::map<std::string, std::string>* out) {
  YAML::Node n = Child(key);
  if (!n.IsDefined()) return;
  if (!n.IsMap()) {
    Error(n, ChildPath(key), "expected a mapping of names to strings, found " + Describe(n));
    return;
  }
  for (const auto& kv : n) {
    std::string k = kv.first.as<std::string>("");
    if (!kv.second.IsScalar()) {
      Error(kv.second, ChildPath(key) + "." + k, "expected a string, found " + Describe(kv.second));
      continue;
    }
    (*out)[k] = kv.second.Scalar();
  }
}

SpecError ErrorAt(const std::string& yaml, const std::string& key_path,
                  const std::string& message) {
  SpecError e;
  e.key_path = key_path;
  e.message = message;
  try {
    YAML::Node node = YAML::Load(yaml);
    // "a.b[2].c" -> a, b, [2], c; a key the file leaves to its default is
    // located at its nearest written ancestor.
    std::string token;
    YAML::Node located = node;
    auto descend = [&](const std::string& key) {
      if (!key.empty() && node.IsMap()) node = node[key];
      if (node.IsDefined()) located = node;
    };
    for (size_t i = 0; i <= key_path.size() && node.IsDefined(); ++i) {
      char c = i < key_path.size() ? key_path[i] : '.';
      if (c == '.' || c == '[') {
        descend(token);
        token.clear();
      } else if (c == ']') {
        size_t index = std::stoul(token);
        node = node.IsSequence() && index < node.size() ? node[index] : YAML::Node();
        if (node.IsDefined()) located = node;
        token.clear();
      } else {
        token += c;
      }
    }
    if (located.Mark().line >= 0) {
      e.line = located.Mark().line + 1;
      e.column = located.Mark().column + 1;
    }
  } catch (const std::exception&) {  // the spec parsed before; keep the error unlocated
  }
  return e;
}

}  // namespace iommuvm::spec
