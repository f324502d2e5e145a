#include "controller/service/ingest_pipeline.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace iommuvm::service {

IngestPipeline::IngestPipeline(scheduler::Scheduler* scheduler, SessionRegistry* registry,
                               AgentGateway* gateway)
    : scheduler_(scheduler), registry_(registry), gateway_(gateway), thread_([this] { Loop(); }) {}

IngestPipeline::~IngestPipeline() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

uint64_t IngestPipeline::NewSession() {
  std::lock_guard lock(mu_);
  return ++sessions_;
}

void IngestPipeline::EndSession(uint64_t session) {
  {
    std::lock_guard lock(mu_);
    ended_.push_back(session);
  }
  cv_.notify_all();
}

void IngestPipeline::Submit(uint64_t session, const std::string& agent_id,
                            std::unique_ptr<v1::AgentMessage> msg) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back({session, agent_id, std::move(msg)});
  }
  cv_.notify_all();
}

void IngestPipeline::Loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty() || !ended_.empty(); });
    ForgetEndedSessions();
    if (queue_.empty() && stop_) return;
    if (queue_.empty()) continue;
    std::vector<Item> group;
    size_t n = std::min(queue_.size(), kMaxGroup);
    group.assign(std::make_move_iterator(queue_.begin()),
                 std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    lock.unlock();
    Apply(group);
    lock.lock();
  }
}

void IngestPipeline::ForgetEndedSessions() {
  std::vector<uint64_t> still_queued;
  for (uint64_t session : ended_) {
    bool queued = std::any_of(queue_.begin(), queue_.end(),
                              [&](const Item& item) { return item.session == session; });
    if (queued) {
      still_queued.push_back(session);
    } else {
      failed_sessions_.erase(session);
    }
  }
  ended_ = std::move(still_queued);
  failed_count_ = failed_sessions_.size();
}

void IngestPipeline::Apply(std::vector<Item>& group) {
  std::vector<scheduler::DataMessage> messages;
  std::vector<Item*> taken;
  for (Item& item : group) {
    if (failed_sessions_.count(item.session)) continue;  // the agent resends it
    messages.push_back({item.agent_id, item.msg.get()});
    taken.push_back(&item);
  }
  std::vector<absl::StatusOr<scheduler::Ingested>> outcomes = scheduler_->OnDataGroup(messages);
  for (size_t i = 0; i < taken.size(); ++i) {
    const Item& item = *taken[i];
    if (failed_sessions_.count(item.session)) continue;
    if (!outcomes[i].ok()) {
      // Not acked: the session ends, and the agent resends this and all
      // after it (theirs still queued are dropped, not applied out of order).
      failed_sessions_.insert(item.session);
      failed_count_ = failed_sessions_.size();
      registry_->CloseSession(item.agent_id, item.session,
                              absl::StrCat("cannot store message ", item.msg->seq(), ": ",
                                           outcomes[i].status().message()));
      continue;
    }
    v1::ControllerMessage ack;
    ack.mutable_ack()->set_seq(item.msg->seq());
    ack.mutable_ack()->set_rejected(outcomes[i]->rejected);
    gateway_->Send(item.agent_id, ack);  // once the commit is on disk
  }
}

}  // namespace iommuvm::service
