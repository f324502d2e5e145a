#pragma once
// IngestPipeline: the agents' data messages (step updates, results, metric
// batches) on their way into the store, off the sessions' threads. A
// session hands each message over and reads the next at once; one thread
// takes everything queued from every session and gives it to the
// Scheduler as one group, which applies consecutive metric batches in one
// transaction (one commit for many: bench/ingest_grpc). Acks go through the
// gateway, after the commit is synced.
//
// Order: messages are applied in the order they arrived, so an agent's
// messages commit in its sequence order (it drops what is at or below the
// committed sequence when it reconnects). When one cannot be stored, its
// session is closed and every message of that session still queued is
// dropped unapplied: the agent resends them all, in order.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "controller/scheduler/scheduler.h"
#include "controller/service/session_registry.h"

namespace iommuvm::service {

class IngestPipeline {
 public:
  IngestPipeline(scheduler::Scheduler* scheduler, SessionRegistry* registry, AgentGateway* gateway);
  // Applies what is queued, then stops.
  ~IngestPipeline();
  // Queues `msg` from `agent_id`'s session number `session`.
  void Submit(uint64_t session, const std::string& agent_id, std::unique_ptr<v1::AgentMessage> msg);
  // A number for a new session, unique in this controller's life.
  uint64_t NewSession();
  // The session has ended: it submits nothing more.
  void EndSession(uint64_t session);
  // Failed sessions whose queued messages are still being dropped (for
  // tests: it returns to 0 once they have ended and their queue is gone).
  size_t failed_sessions() const { return failed_count_.load(); }

  // Messages taken in one group at most: the group holds the scheduler's
  // lock while it is applied (64 metric batches: about 10 ms here).
  static constexpr size_t kMaxGroup = 64;

 private:
  struct Item {
    uint64_t session;
    std::string agent_id;
    std::unique_ptr<v1::AgentMessage> msg;
  };
  void Loop();
  void Apply(std::vector<Item>& group);
  // Forgets the failed sessions that have ended with nothing queued. mu_
  // held, on the pipeline thread.
  void ForgetEndedSessions();

  scheduler::Scheduler* scheduler_;
  SessionRegistry* registry_;
  AgentGateway* gateway_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Item> queue_;
  uint64_t sessions_ = 0;
  bool stop_ = false;
  std::vector<uint64_t> ended_;  // sessions that have ended, to forget
  // Sessions closed because a message could not be stored (their queued
  // messages are dropped). Only the pipeline thread touches it; a session
  // is forgotten once it has ended and none of its messages is queued.
  std::set<uint64_t> failed_sessions_;
  std::atomic<size_t> failed_count_{0};
  std::thread thread_;
};

}  // namespace iommuvm::service
