#pragma once
// Thin RAII wrapper over the SQLite C API shared by the controller's store
// and the agent's outbox. Errors come back as absl::Status naming the SQL.

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace iommuvm::sqlite {

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Binds parameters 1..N in order.
  template <typename... Args>
  Statement& BindAll(const Args&... args) {
    int i = 1;
    (Bind(i++, args), ...);
    return *this;
  }
  Statement& Bind(int index, int64_t v);
  Statement& Bind(int index, int v) { return Bind(index, static_cast<int64_t>(v)); }
  Statement& Bind(int index, uint32_t v) { return Bind(index, static_cast<int64_t>(v)); }
  Statement& Bind(int index, uint64_t v) { return Bind(index, static_cast<int64_t>(v)); }
  Statement& Bind(int index, double v);
  Statement& Bind(int index, absl::string_view v);
  Statement& Bind(int index, const std::string& v) { return Bind(index, absl::string_view(v)); }
  Statement& Bind(int index, const char* v) { return Bind(index, absl::string_view(v)); }
  Statement& Bind(int index, std::nullopt_t);

  // Advances to the next row: true if a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Runs to completion, ignoring rows.
  absl::Status Run();
  // Resets for re-execution with new bindings.
  void Reset();

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string Text(int col) const;
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int ColumnCount() const { return sqlite3_column_count(stmt_); }
  bool IsNumber(int col) const {
    int type = sqlite3_column_type(stmt_, col);
    return type == SQLITE_INTEGER || type == SQLITE_FLOAT;
  }
  std::string ColumnName(int col) const {
    const char* name = sqlite3_column_name(stmt_, col);
    return name == nullptr ? "" : name;
  }
  // True when the statement only reads (SELECT, read-only PRAGMA, EXPLAIN).
  bool ReadOnly() const { return sqlite3_stmt_readonly(stmt_) != 0; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Database {
 public:
  // Opens (creating if `create`) the database at `path` with foreign keys
  // on and a 5 s busy timeout. Writes nothing; FailedPrecondition when a
  // writable open yields a read-only database.
  // kOneAtATime: the caller never uses the connection from two threads at
  // once, so SQLite's own mutex (taken on every column read) is left out.
  enum class Threads { kShared, kOneAtATime };
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path, bool create = true,
                                                        bool read_only = false,
                                                        Threads threads = Threads::kShared);
  ~Database();

  // WAL journal, readers never block the writer. kSyncEachCommit
  // (synchronous=FULL): every commit is on disk when it returns, so an ack
  // may follow it. kSyncExplicitly (synchronous=NORMAL): commits are not
  // synced until SyncWal(), so one fsync makes a group of commits durable
  // before anything that depends on them goes out (group commit).
  enum class Durability { kSyncEachCommit, kSyncExplicitly };
  absl::Status EnableWal(Durability durability = Durability::kSyncEachCommit);
  // Makes every commit so far durable: one fsync of the write-ahead log
  // (NORMAL syncs it itself only around checkpoints).
  absl::Status SyncWal();
  absl::Status Exec(absl::string_view sql);
  absl::StatusOr<Statement> Prepare(absl::string_view sql);
  // A statement prepared once per database and kept, reset and unbound on
  // every call: for hot paths (ingest) where preparing costs as much as
  // executing. The pointer stays valid until the database closes; callers
  // serialize use (one user at a time per statement).
  absl::StatusOr<Statement*> Cached(absl::string_view sql);
  // Resets every cached statement: none keeps a read transaction open.
  void ResetCached();
  int64_t LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  int Changes() const { return sqlite3_changes(db_); }
  // Runs a query returning one integer (0 when there is no row).
  absl::StatusOr<int64_t> QueryInt(absl::string_view sql);
  const std::string& path() const { return path_; }

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> cached_;
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless committed.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  absl::Status status() const { return begin_status_; }
  absl::Status Commit();

 private:
  Database& db_;
  absl::Status begin_status_;
  bool done_ = false;
};

}  // namespace iommuvm::sqlite
