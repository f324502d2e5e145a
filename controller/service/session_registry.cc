#include "controller/service/session_registry.h"

namespace iommuvm::service {

bool SessionRegistry::Attach(const std::string& agent_id, SessionSink* sink) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = sessions_.emplace(agent_id, sink);
  return inserted || it->second == sink;
}

bool SessionRegistry::Detach(const std::string& agent_id, SessionSink* sink) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(agent_id);
  if (it == sessions_.end() || it->second != sink) return false;
  sessions_.erase(it);
  return true;
}

bool SessionRegistry::Send(const std::string& agent_id, const v1::ControllerMessage& msg) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(agent_id);
  if (it == sessions_.end()) return false;
  it->second->Write(msg);
  return true;
}

bool SessionRegistry::Connected(const std::string& agent_id) const {
  std::lock_guard lock(mu_);
  return sessions_.count(agent_id) > 0;
}

void SessionRegistry::Close(const std::string& agent_id, const std::string& reason) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(agent_id);
  if (it != sessions_.end()) it->second->Close(reason);
}

size_t SessionRegistry::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

}  // namespace iommuvm::service
