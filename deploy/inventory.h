#pragma once
// An inventory file: the nodes to deploy to, written by hand when they do
// not come from a CloudLab manifest.
//
//   defaults:            # any node key, applied where a node leaves it out
//     user: alice
//     identity: ~/.ssh/id_ed25519
//   nodes:
//     - id: node1
//       host: amd123.utah.cloudlab.us   # SSH login
//       port: 22
//       roles: [server]
//       labels: {hardware: c6525-25g}
//       data_address: 10.10.1.1
//       data_nic: enp65s0f0np0           # or data_mac: 0c:42:a1:dd:5f:8e
//       agent_args: [--allow_cmdline, isolcpus]
//       root: /                          # install under another root

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deploy/deploy_node.h"

namespace iommuvm::deploy {

// InvalidArgument as "FILE:LINE:COLUMN: field: what is wrong (the fix)"
// for unknown keys, missing ids or hosts, bad roles, duplicate ids.
absl::StatusOr<std::vector<DeployNode>> ParseInventory(const std::string& yaml,
                                                       const std::string& source,
                                                       const std::string& default_user);

}  // namespace iommuvm::deploy
