#include "controller/scheduler/node_liveness.h"

namespace iommuvm::scheduler {

void NodeLiveness::Known(const std::string& node) {
  std::lock_guard lock(mu_);
  absl::Time now = clock_->Now();
  nodes_[node] = Node{false, now, now};
}

void NodeLiveness::Connected(const std::string& node) {
  std::lock_guard lock(mu_);
  absl::Time now = clock_->Now();
  nodes_[node] = Node{true, now, now};
}

void NodeLiveness::HeardFrom(const std::string& node) {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(node);
  if (it != nodes_.end()) it->second.last_seen = clock_->Now();
}

void NodeLiveness::Disconnected(const std::string& node) {
  std::lock_guard lock(mu_);
  Node& n = nodes_[node];
  n.connected = false;
  n.disconnected_at = clock_->Now();
}

const NodeLiveness::Node* NodeLiveness::Find(const std::string& node) const {
  auto it = nodes_.find(node);
  return it == nodes_.end() ? nullptr : &it->second;
}

bool NodeLiveness::IsConnected(const std::string& node) const {
  std::lock_guard lock(mu_);
  const Node* n = Find(node);
  return n != nullptr && n->connected;
}

bool NodeLiveness::Responsive(const std::string& node) const {
  std::lock_guard lock(mu_);
  const Node* n = Find(node);
  return n != nullptr && n->connected && clock_->Now() - n->last_seen <= grace_;
}

absl::Duration NodeLiveness::SilentFor(const std::string& node) const {
  std::lock_guard lock(mu_);
  const Node* n = Find(node);
  // Never heard of since this controller started: as if it left at the
  // epoch, so any grace has passed.
  if (n == nullptr) return absl::InfiniteDuration();
  return clock_->Now() - (n->connected ? n->last_seen : n->disconnected_at);
}

absl::Duration NodeLiveness::SinceHeard(const std::string& node) const {
  std::lock_guard lock(mu_);
  const Node* n = Find(node);
  return n == nullptr ? absl::InfiniteDuration() : clock_->Now() - n->last_seen;
}

int64_t NodeLiveness::ConnectedCount() const {
  std::lock_guard lock(mu_);
  int64_t connected = 0;
  for (const auto& [_, n] : nodes_) connected += n.connected ? 1 : 0;
  return connected;
}

}  // namespace iommuvm::scheduler
