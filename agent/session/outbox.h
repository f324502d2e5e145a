#pragma once
// Outbox: every data message the agent sends is written here first with the
// next per-agent sequence number, and deleted only when the controller acks
// it (after its own commit). Survives agent crashes and reboots, so nothing
// is lost and, with the controller's dedupe, nothing is stored twice.
// Also remembers which step ids finished, so a re-sent step is not re-run.

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/sqlite.h"
#include "iommuvm/v1/agent.pb.h"

namespace iommuvm::agent {

class Outbox {
 public:
  static absl::StatusOr<std::unique_ptr<Outbox>> Open(const std::string& path);

  // Stores `msg` with the next sequence number (set in the stored copy)
  // and returns that number.
  absl::StatusOr<uint64_t> Enqueue(v1::AgentMessage msg);
  // Messages with seq > after, in order, at most `limit`.
  absl::StatusOr<std::vector<v1::AgentMessage>> After(uint64_t after, size_t limit);
  // Deletes the message with `seq` (acked).
  absl::Status Ack(uint64_t seq);
  // Deletes every message up to and including `seq`.
  absl::Status AckUpTo(uint64_t seq);
  // Highest sequence number ever acked (persisted).
  uint64_t last_acked() const;
  // Number of messages waiting for an ack.
  absl::StatusOr<int64_t> Pending();
  // Waits until a message with seq > after exists or `timeout` passes.
  void WaitForNew(uint64_t after, absl::Duration timeout);
  // Wakes WaitForNew callers (e.g. on shutdown).
  void Wake();

  absl::Status MarkStepDone(const std::string& step_id);
  bool IsStepDone(const std::string& step_id);

 private:
  explicit Outbox(std::unique_ptr<sqlite::Database> db) : db_(std::move(db)) {}
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<sqlite::Database> db_;
  uint64_t next_seq_ = 1;
  uint64_t last_acked_ = 0;
  uint64_t wake_generation_ = 0;
};

}  // namespace iommuvm::agent
