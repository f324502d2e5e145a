#pragma once
// Which server/client pairs an experiment runs on. Pairs are stable: a
// pair the experiment already uses is kept while both its nodes stay
// eligible, and only nodes not yet paired form new pairs, so a node joining
// or leaving does not reshuffle the others (and their boot state).

#include <string>
#include <vector>

#include "iommuvm/v1/common.pb.h"
#include "spec/spec.h"

namespace iommuvm::scheduler {

struct NodePair {
  std::string server;
  std::string client;
  bool operator==(const NodePair& o) const { return server == o.server && client == o.client; }
  bool operator<(const NodePair& o) const {
    return server != o.server ? server < o.server : client < o.client;
  }
};

// A node that may be used now: connected, healthy, not taken by another
// experiment.
struct CandidateNode {
  std::string agent_id;
  bool server = false;  // has the server role
  bool client = false;  // has the client role
  std::map<std::string, std::string> labels;
};

// Whether `labels` hold every key=value of `selector` (nodes.selector).
bool LabelsMatch(const std::map<std::string, std::string>& labels,
                 const std::map<std::string, std::string>& selector);

// The pairs for `nodes` (the spec's `nodes` section) out of `candidates`,
// keeping `previous` pairs that are still possible. Explicit pairs are used
// as listed when both nodes are candidates. Otherwise server-only nodes pair
// with client-only nodes, then with dual-role nodes, and dual-role nodes
// pair with each other; a last dual-role node pairs with itself (server and
// generator on one machine, as on a laptop). At most `nodes.count` pairs.
std::vector<NodePair> FormPairs(const spec::NodesSpec& nodes,
                                const std::vector<CandidateNode>& candidates,
                                const std::vector<NodePair>& previous);

}  // namespace iommuvm::scheduler
