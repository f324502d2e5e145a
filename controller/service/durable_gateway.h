#pragma once
// DurableGateway: the scheduler's and the sessions' way to agents. Nothing
// that depends on a commit may reach an agent before that commit is on
// disk (an ack lets the agent delete its copy; a step acts on a state
// change), but one fsync per commit costs ingest 4x (bench/ingest_bench).
// So messages queue here, and one thread flushes the queue after one
// Store::Sync for the whole group: group commit. When the sync fails,
// nothing of the group is sent and the agents' sessions are closed: they
// reconnect and everything unacked is resent.

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "controller/service/session_registry.h"
#include "controller/store/store.h"

namespace iommuvm::service {

class DurableGateway final : public AgentGateway {
 public:
  DurableGateway(store::Store* store, SessionRegistry* registry);
  // Flushes what is queued (after a sync) and stops.
  ~DurableGateway() override;
  // Queues `msg`; false when the agent has no session now (it is sent
  // anyway if one opens before the flush).
  bool Send(const std::string& agent_id, const v1::ControllerMessage& msg) override;
  // Returns once everything queued before the call was synced and handed
  // to the sessions (tests, shutdown).
  void Flush();

 private:
  void Loop();
  // Syncs, then hands `batch` to the sessions (closing them on failure).
  void Deliver(std::vector<std::pair<std::string, v1::ControllerMessage>> batch);

  store::Store* store_;
  SessionRegistry* registry_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, v1::ControllerMessage>> queue_;
  uint64_t queued_ = 0;     // messages ever queued
  uint64_t delivered_ = 0;  // of those, handed on (or dropped with a closed session)
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace iommuvm::service
