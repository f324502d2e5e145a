#pragma once
// The RSpec XML CloudLab's portal shows for an experiment ("Manifest"
// tab), read into DeployNodes. Written as the portal writes it: the root
// may say type="request" although it carries manifest data, elements may
// be prefixed (rs:node, emulab:vnode), MACs come without separators
// (0c42a1dd5f8e), a node may have no interface, and nodes may be joined by
// several LANs.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deploy/deploy_node.h"

namespace iommuvm::deploy {

struct ManifestOptions {
  std::string user;     // the login to use (else the manifest's first)
  std::string lan;      // the experiment LAN's client_id; required when several
  std::string servers;  // comma-separated client_ids; see AssignRoles
  std::string clients;
  std::string source = "manifest";  // the file's name, for messages
};

// Per node: id = client_id; host/port from its <login> (else <host name>);
// user = options.user, else the manifest's first login; labels hardware=
// (<hardware_type> or emulab:vnode's hardware_type) and site= (from
// component_manager_id); on the chosen LAN, the interface's MAC and IP as
// data_mac / data_address. InvalidArgument, naming the file and the
// cause, for a document that is not XML, has no nodes, or a LAN no node
// is on.
absl::StatusOr<std::vector<DeployNode>> ParseManifest(const std::string& xml,
                                                      const ManifestOptions& options);

// "0c42a1dd5f8e" or "0C-42-A1-DD-5F-8E" -> "0c:42:a1:dd:5f:8e"; "" when it
// is not a MAC.
std::string NormalizeMac(const std::string& mac);

}  // namespace iommuvm::deploy
