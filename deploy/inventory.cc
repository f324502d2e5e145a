#include "deploy/inventory.h"

#include <yaml-cpp/yaml.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "deploy/manifest.h"

namespace iommuvm::deploy {
namespace {

const std::set<std::string>& NodeKeys() {
  static const auto* keys = new std::set<std::string>{
      "id",           "host",     "port",     "user",       "roles", "labels",
      "data_address", "data_mac", "data_nic", "agent_args", "root",  "identity"};
  return *keys;
}

absl::Status ErrorAt(const std::string& source, const YAML::Node& node, const std::string& field,
                     const std::string& what) {
  YAML::Mark m = node.Mark();
  return absl::InvalidArgumentError(
      absl::StrCat(source, ":", m.line + 1, ":", m.column + 1, ": ", field, ": ", what));
}

// Fills `n` from the mapping `m` (a node, or the defaults).
absl::Status ReadNode(const std::string& source, const YAML::Node& m, const std::string& where,
                      DeployNode* n) {
  if (!m.IsMap()) return ErrorAt(source, m, where, "must be a mapping of node keys");
  for (const auto& kv : m) {
    std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    std::string field = absl::StrCat(where, ".", key);
    if (!NodeKeys().count(key)) {
      return ErrorAt(source, kv.first, field,
                     absl::StrCat("unknown key (known: ", absl::StrJoin(NodeKeys(), ", "), ")"));
    }
    try {
      if (key == "roles") {
        if (!v.IsSequence()) return ErrorAt(source, v, field, "a list: [server], [client] or both");
        n->roles.clear();
        for (const auto& r : v) {
          std::string role = r.as<std::string>();
          if (role != "server" && role != "client") {
            return ErrorAt(source, r, field, absl::StrCat("'", role, "' is not server or client"));
          }
          n->roles.push_back(role);
        }
      } else if (key == "labels") {
        if (!v.IsMap()) return ErrorAt(source, v, field, "a mapping of label: value");
        for (const auto& l : v) n->labels[l.first.as<std::string>()] = l.second.as<std::string>();
      } else if (key == "agent_args") {
        if (!v.IsSequence()) return ErrorAt(source, v, field, "a list of iommuvm-agent flags");
        n->agent_args.clear();
        for (const auto& a : v) n->agent_args.push_back(a.as<std::string>());
      } else if (key == "port") {
        n->port = v.as<int>();
        if (n->port <= 0 || n->port > 65535) return ErrorAt(source, v, field, "not a TCP port");
      } else {
        std::string s = v.as<std::string>();
        if (key == "id") n->id = s;
        if (key == "host") n->host = s;
        if (key == "user") n->user = s;
        if (key == "data_address") n->data_address = s;
        if (key == "data_nic") n->data_nic = s;
        if (key == "root") n->root = s;
        if (key == "identity") n->identity_file = s;
        if (key == "data_mac") {
          n->data_mac = NormalizeMac(s);
          if (n->data_mac.empty()) return ErrorAt(source, v, field, "not a MAC address");
        }
      }
    } catch (const YAML::Exception&) {
      return ErrorAt(source, v, field, "has the wrong type");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<DeployNode>> ParseInventory(const std::string& yaml,
                                                       const std::string& source,
                                                       const std::string& default_user) {
  YAML::Node doc;
  try {
    doc = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
  if (!doc.IsMap() || !doc["nodes"] || !doc["nodes"].IsSequence() || doc["nodes"].size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": an inventory needs `nodes:`, a list of nodes (id, host, roles...)"));
  }
  for (const auto& kv : doc) {
    std::string key = kv.first.as<std::string>();
    if (key != "nodes" && key != "defaults") {
      return ErrorAt(source, kv.first, key, "unknown key (an inventory has defaults and nodes)");
    }
  }
  DeployNode defaults;
  defaults.user = default_user;
  if (doc["defaults"]) {
    if (auto s = ReadNode(source, doc["defaults"], "defaults", &defaults); !s.ok()) return s;
  }
  std::vector<DeployNode> nodes;
  std::map<std::string, int> first_line;
  int index = 0;
  for (const auto& m : doc["nodes"]) {
    std::string where = absl::StrCat("nodes[", index++, "]");
    DeployNode n = defaults;
    if (auto s = ReadNode(source, m, where, &n); !s.ok()) return s;
    n.source = absl::StrCat(source, ":", m.Mark().line + 1);
    if (n.id.empty()) return ErrorAt(source, m, where + ".id", "missing (the agent's id)");
    if (n.host.empty()) return ErrorAt(source, m, where + ".host", "missing (the SSH login host)");
    if (n.roles.empty()) {
      return ErrorAt(source, m, where + ".roles",
                     "missing: [server], [client] or [server, client]");
    }
    if (auto [it, fresh] = first_line.emplace(n.id, m.Mark().line + 1); !fresh) {
      return ErrorAt(source, m, where + ".id",
                     absl::StrCat("duplicate id '", n.id, "' (first at line ", it->second,
                                  "); every node needs its own"));
    }
    nodes.push_back(std::move(n));
  }
  return nodes;
}

}  // namespace iommuvm::deploy
