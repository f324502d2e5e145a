#include "controller/service/session_registry.h"

namespace iommuvm::service {

void SessionRegistry::set_capacity(size_t capacity) {
  std::lock_guard lock(mu_);
  capacity_ = capacity;
}

size_t SessionRegistry::capacity() const {
  std::lock_guard lock(mu_);
  return capacity_;
}

SessionRegistry::Attached SessionRegistry::Attach(const std::string& agent_id, SessionSink* sink,
                                                  uint64_t session) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(agent_id);
  if (it != sessions_.end()) return it->second.sink == sink ? Attached::kYes : Attached::kIdTaken;
  if (sessions_.size() >= capacity_) return Attached::kFull;
  sessions_.emplace(agent_id, Entry{sink, session});
  return Attached::kYes;
}

bool SessionRegistry::Detach(const std::string& agent_id, SessionSink* sink) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(agent_id);
  if (it == sessions_.end() || it->second.sink != sink) return false;
  sessions_.erase(it);
  return true;
}

bool SessionRegistry::Send(const std::string& agent_id, const v1::ControllerMessage& msg) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(agent_id);
  if (it == sessions_.end()) return false;
  it->second.sink->Write(msg);
  return true;
}

bool SessionRegistry::Connected(const std::string& agent_id) const {
  std::lock_guard lock(mu_);
  return sessions_.count(agent_id) > 0;
}

void SessionRegistry::Close(const std::string& agent_id, const std::string& reason) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(agent_id);
  if (it != sessions_.end()) it->second.sink->Close(reason);
}

void SessionRegistry::CloseSession(const std::string& agent_id, uint64_t session,
                                   const std::string& reason) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(agent_id);
  if (it != sessions_.end() && it->second.session == session) it->second.sink->Close(reason);
}

size_t SessionRegistry::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

}  // namespace iommuvm::service
