#include "controller/service/durable_gateway.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace iommuvm::service {

DurableGateway::DurableGateway(store::Store* store, SessionRegistry* registry)
    : store_(store), registry_(registry), thread_([this] { Loop(); }) {}

DurableGateway::~DurableGateway() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool DurableGateway::Send(const std::string& agent_id, const v1::ControllerMessage& msg) {
  bool connected = registry_->Connected(agent_id);
  {
    std::lock_guard lock(mu_);
    queue_.emplace_back(agent_id, msg);
    ++queued_;
  }
  cv_.notify_all();
  return connected;
}

void DurableGateway::Flush() {
  std::unique_lock lock(mu_);
  uint64_t target = queued_;
  cv_.wait(lock, [&] { return delivered_ >= target || stop_; });
}

void DurableGateway::Loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty() && stop_) return;
    auto batch = std::move(queue_);
    queue_.clear();
    lock.unlock();
    size_t n = batch.size();
    Deliver(std::move(batch));
    lock.lock();
    delivered_ += n;
    cv_.notify_all();
  }
}

void DurableGateway::Deliver(std::vector<std::pair<std::string, v1::ControllerMessage>> batch) {
  absl::Status synced = store_->Sync();
  if (!synced.ok()) {
    std::set<std::string> agents;
    for (const auto& [agent, msg] : batch) agents.insert(agent);
    Log("gateway", "cannot make commits durable (", synced.message(), "); holding back ",
        batch.size(), " messages and closing the sessions of ", agents.size(),
        " agents so they resend");
    for (const std::string& agent : agents) {
      registry_->Close(agent, absl::StrCat("controller storage: ", synced.message()));
    }
    return;
  }
  for (const auto& [agent, msg] : batch) registry_->Send(agent, msg);
}

}  // namespace iommuvm::service
