#include "controller/scheduler/pairing.h"

#include <algorithm>
#include <map>
#include <set>

namespace iommuvm::scheduler {
bool LabelsMatch(const std::map<std::string, std::string>& labels,
                 const std::map<std::string, std::string>& selector) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

std::vector<NodePair> FormPairs(const spec::NodesSpec& nodes,
                                const std::vector<CandidateNode>& candidates,
                                const std::vector<NodePair>& previous) {
  std::map<std::string, const CandidateNode*> usable;
  for (const auto& c : candidates) {
    if (LabelsMatch(c.labels, nodes.selector)) usable[c.agent_id] = &c;
  }
  auto can = [&](const std::string& id, bool server) {
    auto it = usable.find(id);
    return it != usable.end() && (server ? it->second->server : it->second->client);
  };
  std::vector<NodePair> pairs;
  if (!nodes.pairs.empty()) {
    for (const auto& p : nodes.pairs) {
      if (can(p.server, true) && can(p.client, false)) pairs.push_back({p.server, p.client});
    }
    return pairs;
  }
  const size_t limit = nodes.count > 0 ? nodes.count : SIZE_MAX;
  std::set<std::string> used;
  for (const NodePair& p : previous) {
    if (pairs.size() < limit && can(p.server, true) && can(p.client, false) &&
        !used.count(p.server) && !used.count(p.client)) {
      pairs.push_back(p);
      used.insert(p.server);
      used.insert(p.client);
    }
  }
  std::vector<std::string> servers, clients, duals;  // sorted: map order
  for (const auto& [id, n] : usable) {
    if (used.count(id)) continue;
    if (n->server && n->client) {
      duals.push_back(id);
    } else if (n->server) {
      servers.push_back(id);
    } else if (n->client) {
      clients.push_back(id);
    }
  }
  auto take = [](std::vector<std::string>& v) {
    std::string id = v.front();
    v.erase(v.begin());
    return id;
  };
  while (pairs.size() < limit) {
    if (!servers.empty() && !clients.empty()) {
      pairs.push_back({take(servers), take(clients)});
    } else if (!servers.empty() && !duals.empty()) {
      pairs.push_back({take(servers), take(duals)});
    } else if (!clients.empty() && !duals.empty()) {
      std::string server = take(duals);
      pairs.push_back({server, take(clients)});
    } else if (duals.size() >= 2) {
      std::string server = take(duals);
      pairs.push_back({server, take(duals)});
    } else if (duals.size() == 1) {
      std::string both = take(duals);
      pairs.push_back({both, both});
    } else {
      break;
    }
  }
  return pairs;
}

}  // namespace iommuvm::scheduler
