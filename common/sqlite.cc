#include "common/sqlite.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace iommuvm::sqlite {
namespace {
absl::Status Error(sqlite3* db, absl::string_view what) {
  int code = sqlite3_extended_errcode(db);
  std::string msg = absl::StrCat("sqlite: ", sqlite3_errmsg(db), " (", what, ")");
  switch (code & 0xff) {
    // Storage trouble that passes (a busy peer, a full or failing disk, a
    // file system remounted read-only): callers retry; nothing was written.
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
      return absl::UnavailableError(msg);
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(msg);
  }
  if ((code & 0xff) == SQLITE_CONSTRAINT) return absl::AlreadyExistsError(msg);
  return absl::InternalError(msg);
}
}  // namespace

Statement::~Statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Statement& Statement::Bind(int index, int64_t v) {
  sqlite3_bind_int64(stmt_, index, v);
  return *this;
}
Statement& Statement::Bind(int index, double v) {
  sqlite3_bind_double(stmt_, index, v);
  return *this;
}
Statement& Statement::Bind(int index, absl::string_view v) {
  sqlite3_bind_text(stmt_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::Bind(int index, std::nullopt_t) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Error(db_, sqlite3_sql(stmt_));
}

absl::Status Statement::Run() {
  while (true) {
    ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return absl::OkStatus();
  }
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Statement::Text(int col) const {
  const unsigned char* t = sqlite3_column_text(stmt_, col);
  if (t == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(t),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& path, bool create,
                                                         bool read_only, Threads threads) {
  sqlite3* db = nullptr;
  int flags =
      read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  flags |= threads == Threads::kShared ? SQLITE_OPEN_FULLMUTEX : SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = absl::StrCat("cannot open database ", path, ": ",
                                   db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return absl::FailedPreconditionError(msg);
  }
  std::unique_ptr<Database> out(new Database(db, path));
  sqlite3_busy_timeout(db, 5000);
  if (!read_only && sqlite3_db_readonly(db, "main") == 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open database ", path, " for writing: it is read-only"));
  }
  RETURN_IF_ERROR(out->Exec("PRAGMA foreign_keys=ON"));
  return out;
}

absl::Status Database::EnableWal(Durability durability) {
  RETURN_IF_ERROR(Exec("PRAGMA journal_mode=WAL"));
  // Under NORMAL alone a WAL commit is not synced, so a crash or a forced
  // read-only remount can lose rows already acknowledged (and deleted by
  // the sender): NORMAL only together with SyncWal() before any ack.
  return Exec(durability == Durability::kSyncEachCommit ? "PRAGMA synchronous=FULL"
                                                        : "PRAGMA synchronous=NORMAL");
}

absl::Status Database::SyncWal() {
  std::string wal = path_ + "-wal";
  int fd = ::open(wal.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::OkStatus();  // nothing logged since the last checkpoint
    return absl::UnavailableError(absl::StrCat("cannot open ", wal, ": ", std::strerror(errno)));
  }
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    return absl::UnavailableError(absl::StrCat("fsync of ", wal, " failed: ", std::strerror(err)));
  }
  return absl::OkStatus();
}

Database::~Database() {
  cached_.clear();  // finalized before the connection closes
  sqlite3_close_v2(db_);
}

absl::Status Database::Exec(absl::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = absl::StrCat("sqlite: ", err ? err : "error", " (", sql.substr(0, 80), ")");
    sqlite3_free(err);
    int code = sqlite3_extended_errcode(db_) & 0xff;
    if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN || code == SQLITE_IOERR ||
        code == SQLITE_PERM) {
      return absl::FailedPreconditionError(msg);
    }
    return absl::InternalError(msg);
  }
  return absl::OkStatus();
}

absl::StatusOr<Statement> Database::Prepare(absl::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, &tail) !=
      SQLITE_OK) {
    return Error(db_, sql);
  }
  Statement st(db_, stmt);
  // SQLite compiles only the first statement and would silently ignore the
  // rest ("SELECT 1; DELETE ..."): refuse anything but comments after it.
  size_t rest = static_cast<size_t>(sql.data() + sql.size() - tail);
  if (tail != nullptr && rest > 0) {
    sqlite3_stmt* next = nullptr;
    int rc = sqlite3_prepare_v2(db_, tail, static_cast<int>(rest), &next, nullptr);
    if (next != nullptr) sqlite3_finalize(next);
    if (rc != SQLITE_OK || next != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("more than one SQL statement (the second starts at '",
                       absl::string_view(tail, std::min<size_t>(rest, 40)),
                       "'); give one statement"));
    }
  }
  return st;
}

absl::StatusOr<Statement*> Database::Cached(absl::string_view sql) {
  auto it = cached_.find(sql);
  if (it == cached_.end()) {
    ASSIGN_OR_RETURN(Statement st, Prepare(sql));
    it = cached_.emplace(std::string(sql), std::make_unique<Statement>(std::move(st))).first;
  }
  it->second->Reset();
  return it->second.get();
}

void Database::ResetCached() {
  for (auto& [sql, st] : cached_) st->Reset();
}

absl::StatusOr<int64_t> Database::QueryInt(absl::string_view sql) {
  ASSIGN_OR_RETURN(Statement st, Prepare(sql));
  ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.Int(0) : 0;
}

namespace {
// BEGIN and COMMIT as statements, so their errors are classified like any
// other: a busy database or a full disk at COMMIT (where WAL pages are
// written) is storage trouble that passes, not a fault of what was written.
absl::Status RunStatement(Database& db, absl::string_view sql) {
  ASSIGN_OR_RETURN(Statement st, db.Prepare(sql));
  return st.Step().status();
}
}  // namespace

Transaction::Transaction(Database& db) : db_(db) {
  begin_status_ = RunStatement(db_, "BEGIN IMMEDIATE");
  done_ = !begin_status_.ok();
}

Transaction::~Transaction() {
  if (!done_) (void)db_.Exec("ROLLBACK");
}

absl::Status Transaction::Commit() {
  RETURN_IF_ERROR(begin_status_);
  done_ = true;
  absl::Status s = RunStatement(db_, "COMMIT");
  if (!s.ok()) (void)db_.Exec("ROLLBACK");
  return s;
}

}  // namespace iommuvm::sqlite
