#pragma once
// Outbox: every data message the agent sends is written here first with the
// next per-agent sequence number, and deleted only when the controller acks
// it (after its own commit). Survives agent crashes and reboots, so nothing
// is lost and, with the controller's dedupe, nothing is stored twice.
// Also remembers which step ids finished, so a re-sent step is not re-run.
//
// Sequence numbers are unique within one *epoch*: a random id the outbox
// picks when its file is created. A new state directory (a re-imaged node,
// another --state_dir, a reused --id) is a new epoch; the controller tells
// the session so, and Rebase() numbers what is pending after the
// controller's committed sequence instead of losing it as "already seen".

#include <condition_variable>
#include <functional>
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
  // and returns that number. A message too big to send is stored as
  // FitMessage makes it (a split batch takes several numbers; the last is
  // returned).
  absl::StatusOr<uint64_t> Enqueue(v1::AgentMessage msg);
  // Stores every message of `msgs` (in order) and marks `step_id` done in
  // one transaction: a crash leaves either all of it or none, so a step's
  // result is never both delivered and run again. Fitted as by Enqueue. `after_commit` runs
  // once it is stored and before any sender can read it (the faults tier
  // dies there).
  absl::Status EnqueueStepEnd(std::vector<v1::AgentMessage> msgs, const std::string& step_id,
                              const std::function<void()>& after_commit = nullptr);
  // The controller has committed this agent's messages up to `committed`
  // in this epoch: numbers issued from now on are above it (after a state
  // directory lost its counters they could otherwise repeat old ones).
  absl::Status RaiseNextSeq(uint64_t committed);
  // `committed` belongs to an earlier epoch: renumbers every pending
  // message after it (in order) and issues later numbers above them.
  // Returns how many messages were renumbered.
  absl::StatusOr<int64_t> Rebase(uint64_t committed);
  // This outbox's epoch id (random, fixed for the life of the file).
  const std::string& epoch() const { return epoch_; }
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

  // Metric samples stored for an attempt so far by this outbox (every life
  // of the agent that used it), counted in the same transaction as their
  // batches.
  uint64_t SamplesStored(int64_t attempt_id);

  absl::Status MarkStepDone(const std::string& step_id);
  bool IsStepDone(const std::string& step_id);

 private:
  explicit Outbox(std::unique_ptr<sqlite::Database> db) : db_(std::move(db)) {}
  // Stores `msgs` (fitted to the wire) and, when given, marks `done_step`
  // done, in one transaction; mu_ held. Returns the last number issued;
  // on failure no number was issued.
  absl::StatusOr<uint64_t> StoreLocked(std::vector<v1::AgentMessage> msgs,
                                       const std::string* done_step);
  // Inserts `msg` with the next number; mu_ held, inside a transaction.
  absl::StatusOr<uint64_t> InsertLocked(v1::AgentMessage msg);
  absl::Status SetCounterLocked(const char* name, uint64_t value);
  absl::Status MarkStepDoneLocked(const std::string& step_id);
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<sqlite::Database> db_;
  uint64_t next_seq_ = 1;
  uint64_t last_acked_ = 0;
  uint64_t wake_generation_ = 0;
  std::string epoch_;
};

}  // namespace iommuvm::agent
