#include "deploy/deploy_node.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace iommuvm::deploy {

std::string NodesJson(const std::vector<DeployNode>& nodes) {
  google::protobuf::Value array;
  auto* list = array.mutable_list_value();
  for (const DeployNode& n : nodes) {
    google::protobuf::Struct o;
    auto& f = *o.mutable_fields();
    f["id"].set_string_value(n.id);
    f["host"].set_string_value(n.host);
    f["port"].set_number_value(n.port);
    f["user"].set_string_value(n.user);
    auto* roles = f["roles"].mutable_list_value();
    for (const std::string& r : n.roles) roles->add_values()->set_string_value(r);
    auto* labels = f["labels"].mutable_struct_value()->mutable_fields();
    for (const auto& [k, v] : n.labels) (*labels)[k].set_string_value(v);
    if (n.data_address.empty()) {
      f["data_address"].set_null_value({});
    } else {
      f["data_address"].set_string_value(n.data_address);
    }
    if (n.data_mac.empty()) {
      f["data_mac"].set_null_value({});
    } else {
      f["data_mac"].set_string_value(n.data_mac);
    }
    *list->add_values()->mutable_struct_value() = std::move(o);
  }
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(array, &out, options);
  return out;
}

std::string AssignRoles(std::vector<DeployNode>* nodes, const std::string& servers,
                        const std::string& clients) {
  std::set<std::string> ids;
  for (const DeployNode& n : *nodes) ids.insert(n.id);
  std::map<std::string, std::string> named;
  for (const auto& [list, role] : {std::pair{&servers, "server"}, std::pair{&clients, "client"}}) {
    for (absl::string_view id : absl::StrSplit(*list, ',', absl::SkipEmpty())) {
      if (!ids.count(std::string(id))) {
        return absl::StrCat("--", role, "s names '", id, "', which is not a node of the manifest");
      }
      if (named.count(std::string(id))) {
        return absl::StrCat("'", id, "' is named in both --servers and --clients");
      }
      named[std::string(id)] = role;
    }
  }
  int next = 0;
  for (DeployNode& n : *nodes) {
    if (n.data_address.empty() && n.data_nic.empty()) continue;  // not on the LAN
    if (!n.roles.empty()) continue;                              // given explicitly
    if (auto it = named.find(n.id); it != named.end()) {
      n.roles = {it->second};
    } else if (named.empty() || servers.empty() || clients.empty()) {
      // Unnamed nodes complete the side that was not listed, or alternate.
      std::string role = !servers.empty()   ? "client"
                         : !clients.empty() ? "server"
                                            : (next++ % 2 == 0 ? "server" : "client");
      n.roles = {role};
    }
  }
  return "";
}

}  // namespace iommuvm::deploy
