#pragma once
// One testbed node as `iommuvm deploy` sees it: where to log in, and what
// its agent is told (id, roles, labels, data NIC and address). Made from a
// CloudLab manifest (deploy/manifest.h) or an inventory file
// (deploy/inventory.h); written out by `deploy --dry-run --format json`.

#include <map>
#include <string>
#include <vector>

namespace iommuvm::deploy {

struct DeployNode {
  std::string id;    // the agent's id (CloudLab: the node's client_id)
  std::string host;  // SSH login host
  int port = 22;
  std::string user;
  std::vector<std::string> roles;  // "server", "client"; empty: not an agent
  std::map<std::string, std::string> labels;
  std::string data_address;  // the experiment LAN's address
  std::string data_mac;      // aa:bb:cc:dd:ee:ff; the agent maps it to its NIC
  std::string data_nic;      // or the NIC's name, when known
  // Extra iommuvm-agent flags (--vm_bridge br0, --allow_cmdline x, ...).
  std::vector<std::string> agent_args;
  // Install under this directory instead of "/" (an image being prepared);
  // the agent is then started directly, not through systemd.
  std::string root = "/";
  std::string identity_file;  // SSH key; empty: the ssh-agent, then ~/.ssh/id_*
  std::string source;         // "manifest.xml:12" or "nodes.yaml:4": where it was declared
};

// The nodes as the JSON array `deploy --dry-run --format json` prints:
// id, host, port, user, roles, labels (object), data_address, data_mac
// (null when unknown).
std::string NodesJson(const std::vector<DeployNode>& nodes);

// Assigns roles to the nodes that have a data address: those named in
// `servers` / `clients` (comma-separated ids), the rest (or, when neither
// is given, all in order) alternating server, client. InvalidArgument
// names an id that is not a node.
std::string AssignRoles(std::vector<DeployNode>* nodes, const std::string& servers,
                        const std::string& clients);

}  // namespace iommuvm::deploy
