#include "agent/session/outbox.h"

#include <random>

#include "absl/strings/str_format.h"
#include "agent/session/message_bounds.h"
#include "common/status_macros.h"

namespace iommuvm::agent {

absl::StatusOr<std::unique_ptr<Outbox>> Outbox::Open(const std::string& path) {
  ASSIGN_OR_RETURN(auto db, sqlite::Database::Open(path));
  RETURN_IF_ERROR(db->EnableWal());
  RETURN_IF_ERROR(db->Exec(
      "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, message BLOB NOT NULL);"
      "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
      "CREATE TABLE IF NOT EXISTS done_steps (step_id TEXT PRIMARY KEY, done_ms INTEGER);"
      "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS sample_counts (attempt_id INTEGER PRIMARY KEY, "
      "samples INTEGER NOT NULL);"));
  std::unique_ptr<Outbox> box(new Outbox(std::move(db)));
  {
    std::random_device rd;
    std::string fresh = absl::StrFormat("%08x%08x", rd(), rd());
    ASSIGN_OR_RETURN(
        auto st, box->db_->Prepare("INSERT OR IGNORE INTO meta (name, value) VALUES ('epoch', ?)"));
    RETURN_IF_ERROR(st.BindAll(fresh).Run());
    ASSIGN_OR_RETURN(auto get, box->db_->Prepare("SELECT value FROM meta WHERE name = 'epoch'"));
    ASSIGN_OR_RETURN(bool row, get.Step());
    if (!row) return absl::DataLossError("outbox has no epoch");
    box->epoch_ = get.Text(0);
  }
  ASSIGN_OR_RETURN(int64_t max_seq, box->db_->QueryInt("SELECT COALESCE(MAX(seq), 0) FROM outbox"));
  ASSIGN_OR_RETURN(int64_t acked,
                   box->db_->QueryInt("SELECT value FROM counters WHERE name = 'last_acked'"));
  ASSIGN_OR_RETURN(int64_t issued,
                   box->db_->QueryInt("SELECT value FROM counters WHERE name = 'last_issued'"));
  box->last_acked_ = static_cast<uint64_t>(acked);
  box->next_seq_ = static_cast<uint64_t>(std::max({max_seq, acked, issued})) + 1;
  return box;
}

absl::StatusOr<uint64_t> Outbox::InsertLocked(v1::AgentMessage msg) {
  uint64_t seq = next_seq_;
  msg.set_seq(seq);
  ASSIGN_OR_RETURN(auto* st, db_->Cached("INSERT INTO outbox (seq, message) VALUES (?, ?)"));
  RETURN_IF_ERROR(st->BindAll(seq, msg.SerializeAsString()).Run());
  RETURN_IF_ERROR(SetCounterLocked("last_issued", seq));
  if (msg.has_metric_batch() && msg.metric_batch().samples_size() > 0) {
    // Counted with the batch it counts: the step reports what was stored,
    // across crashes of this agent and never what a full disk dropped.
    ASSIGN_OR_RETURN(auto* count,
                     db_->Cached("INSERT INTO sample_counts (attempt_id, samples) VALUES (?, ?) "
                                 "ON CONFLICT(attempt_id) DO UPDATE SET samples = samples + "
                                 "excluded.samples"));
    RETURN_IF_ERROR(count
                        ->BindAll(msg.metric_batch().attempt_id(),
                                  static_cast<int64_t>(msg.metric_batch().samples_size()))
                        .Run());
  }
  return seq;
}

absl::Status Outbox::SetCounterLocked(const char* name, uint64_t value) {
  ASSIGN_OR_RETURN(auto* c, db_->Cached("INSERT OR REPLACE INTO counters (name, value) "
                                        "VALUES (?, ?)"));
  return c->BindAll(name, value).Run();
}

absl::StatusOr<uint64_t> Outbox::StoreLocked(std::vector<v1::AgentMessage> msgs,
                                             const std::string* done_step) {
  uint64_t first = next_seq_;
  uint64_t seq = 0;
  sqlite::Transaction tx(*db_);
  RETURN_IF_ERROR(tx.status());
  absl::Status s = [&]() -> absl::Status {
    for (auto& m : msgs) {
      for (auto& part : FitMessage(std::move(m))) {
        ASSIGN_OR_RETURN(seq, InsertLocked(std::move(part)));
        next_seq_ = seq + 1;
      }
    }
    if (done_step != nullptr) RETURN_IF_ERROR(MarkStepDoneLocked(*done_step));
    return tx.Commit();
  }();
  if (!s.ok()) {
    next_seq_ = first;  // rolled back: the numbers were never issued
    return s;
  }
  return seq;
}

absl::StatusOr<uint64_t> Outbox::Enqueue(v1::AgentMessage msg) {
  std::lock_guard lock(mu_);
  std::vector<v1::AgentMessage> msgs;
  msgs.push_back(std::move(msg));
  ASSIGN_OR_RETURN(uint64_t seq, StoreLocked(std::move(msgs), nullptr));
  cv_.notify_all();
  return seq;
}

absl::Status Outbox::EnqueueStepEnd(std::vector<v1::AgentMessage> msgs,
                                    const std::string& step_id,
                                    const std::function<void()>& after_commit) {
  std::lock_guard lock(mu_);
  RETURN_IF_ERROR(StoreLocked(std::move(msgs), &step_id).status());
  if (after_commit) after_commit();  // mu_ held: no sender has seen it yet
  cv_.notify_all();
  return absl::OkStatus();
}

absl::Status Outbox::RaiseNextSeq(uint64_t committed) {
  std::lock_guard lock(mu_);
  if (next_seq_ > committed) return absl::OkStatus();
  RETURN_IF_ERROR(SetCounterLocked("last_issued", committed));
  next_seq_ = committed + 1;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Outbox::Rebase(uint64_t committed) {
  std::lock_guard lock(mu_);
  sqlite::Transaction tx(*db_);
  RETURN_IF_ERROR(tx.status());
  std::vector<std::pair<uint64_t, std::string>> pending;
  {
    ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT seq, message FROM outbox ORDER BY seq"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      pending.emplace_back(static_cast<uint64_t>(st.Int(0)), st.Text(1));
    }
  }
  RETURN_IF_ERROR(db_->Exec("DELETE FROM outbox"));
  uint64_t next = std::max(next_seq_, committed + 1);
  for (auto& [old_seq, blob] : pending) {
    v1::AgentMessage m;
    if (!m.ParseFromString(blob)) return absl::DataLossError("corrupt outbox entry");
    m.set_seq(next);
    ASSIGN_OR_RETURN(auto* ins, db_->Cached("INSERT INTO outbox (seq, message) VALUES (?, ?)"));
    RETURN_IF_ERROR(ins->BindAll(next, m.SerializeAsString()).Run());
    ++next;
  }
  RETURN_IF_ERROR(SetCounterLocked("last_issued", next - 1));
  // Acks of the earlier epoch say nothing about these numbers.
  RETURN_IF_ERROR(SetCounterLocked("last_acked", committed));
  RETURN_IF_ERROR(tx.Commit());
  next_seq_ = next;
  last_acked_ = committed;
  cv_.notify_all();
  return static_cast<int64_t>(pending.size());
}

absl::StatusOr<std::vector<v1::AgentMessage>> Outbox::After(uint64_t after, size_t limit) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT message FROM outbox WHERE seq > ? "
                                         "ORDER BY seq LIMIT ?"));
  st.BindAll(after, static_cast<int64_t>(limit));
  std::vector<v1::AgentMessage> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    v1::AgentMessage m;
    if (!m.ParseFromString(st.Text(0))) return absl::DataLossError("corrupt outbox entry");
    out.push_back(std::move(m));
  }
  return out;
}

absl::Status Outbox::Ack(uint64_t seq) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(auto st, db_->Prepare("DELETE FROM outbox WHERE seq = ?"));
  RETURN_IF_ERROR(st.BindAll(seq).Run());
  if (seq > last_acked_) {
    last_acked_ = seq;
    RETURN_IF_ERROR(SetCounterLocked("last_acked", seq));
  }
  return absl::OkStatus();
}

absl::Status Outbox::AckUpTo(uint64_t seq) {
  {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto st, db_->Prepare("DELETE FROM outbox WHERE seq <= ?"));
    RETURN_IF_ERROR(st.BindAll(seq).Run());
  }
  return seq > 0 ? Ack(seq) : absl::OkStatus();
}

uint64_t Outbox::last_acked() const {
  std::lock_guard lock(mu_);
  return last_acked_;
}

absl::StatusOr<int64_t> Outbox::Pending() {
  std::lock_guard lock(mu_);
  return db_->QueryInt("SELECT COUNT(*) FROM outbox");
}

void Outbox::WaitForNew(uint64_t after, absl::Duration timeout) {
  std::unique_lock lock(mu_);
  uint64_t generation = wake_generation_;
  cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
               [&] { return next_seq_ > after + 1 || wake_generation_ != generation; });
}

void Outbox::Wake() {
  std::lock_guard lock(mu_);
  ++wake_generation_;
  cv_.notify_all();
}

uint64_t Outbox::SamplesStored(int64_t attempt_id) {
  std::lock_guard lock(mu_);
  auto st = db_->Prepare("SELECT samples FROM sample_counts WHERE attempt_id = ?");
  if (!st.ok()) return 0;
  st->BindAll(attempt_id);
  auto row = st->Step();
  return row.ok() && *row ? static_cast<uint64_t>(st->Int(0)) : 0;
}

absl::Status Outbox::MarkStepDone(const std::string& step_id) {
  std::lock_guard lock(mu_);
  return MarkStepDoneLocked(step_id);
}

absl::Status Outbox::MarkStepDoneLocked(const std::string& step_id) {
  ASSIGN_OR_RETURN(auto* st, db_->Cached("INSERT OR IGNORE INTO done_steps (step_id, done_ms) "
                                         "VALUES (?, strftime('%s','now') * 1000)"));
  return st->BindAll(step_id).Run();
}

bool Outbox::IsStepDone(const std::string& step_id) {
  std::lock_guard lock(mu_);
  auto st = db_->Prepare("SELECT 1 FROM done_steps WHERE step_id = ?");
  if (!st.ok()) return false;
  st->BindAll(step_id);
  auto row = st->Step();
  return row.ok() && *row;
}

}  // namespace iommuvm::agent
