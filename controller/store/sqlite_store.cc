#include "controller/store/sqlite_store.h"

#include <algorithm>
#include <set>
#include <thread>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/table.h"
#include "controller/store/attempt_state.h"
#include "controller/store/migrations.h"

namespace iommuvm::store {
namespace {

// The stored names of the attempt states `pick` selects, as an SQL list
// ('X', 'Y', ...), so queries never spell a state themselves.
template <typename Pick>
std::string SqlStateList(Pick pick) {
  std::vector<std::string> names;
  for (AttemptState s : kAllAttemptStates) {
    if (pick(s)) names.push_back(absl::StrCat("'", AttemptStateName(s), "'"));
  }
  return absl::StrJoin(names, ", ");
}

using sqlite::Statement;

// Every evidence key (QueryAttempts' evidence prefixes: none means all).
const std::optional<std::vector<std::string>> kAllEvidence = std::vector<std::string>();

absl::Time FromMs(int64_t ms) { return absl::FromUnixMillis(ms); }

std::string EncodeMap(const std::map<std::string, std::string>& m) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : m) parts.push_back(absl::StrCat(k, "=", v));
  return absl::StrJoin(parts, "\n");
}

std::map<std::string, std::string> DecodeMap(const std::string& s) {
  std::map<std::string, std::string> m;
  for (absl::string_view line : absl::StrSplit(s, '\n', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    m[kv.first] = kv.second;
  }
  return m;
}

std::string EncodeRoles(const std::vector<v1::Role>& roles) {
  std::vector<std::string> names;
  for (v1::Role r : roles) names.push_back(r == v1::ROLE_SERVER ? "server" : "client");
  return absl::StrJoin(names, ",");
}

std::vector<v1::Role> DecodeRoles(const std::string& s) {
  std::vector<v1::Role> roles;
  for (absl::string_view r : absl::StrSplit(s, ',', absl::SkipEmpty())) {
    roles.push_back(r == "server" ? v1::ROLE_SERVER : v1::ROLE_CLIENT);
  }
  return roles;
}

constexpr char kAttemptColumns[] =
    "a.id, a.run_id, r.experiment_id, a.number, a.state, a.server_node, a.client_node, "
    "a.step_id, a.endpoint_host, a.endpoint_port, a.error, a.samples_reported, "
    "a.created_ms, a.updated_ms";
constexpr int kAttemptColumnCount = 14;

// result_facts' columns, one per result evidence key, as "f.<key>".
const std::string& ResultFactColumns() {
  static const std::string columns = [] {
    std::vector<std::string> quoted;
    for (const char* key : kResultEvidenceKeys) quoted.push_back(absl::StrCat("f.\"", key, "\""));
    return absl::StrJoin(quoted, ", ");
  }();
  return columns;
}

// The result evidence of `a` from result_facts' columns, from `first` on.
void ReadResultFacts(const Statement& st, int first, AttemptRecord& a) {
  for (size_t i = 0; i < kResultEvidenceKeys.size(); ++i) {
    int col = first + static_cast<int>(i);
    // The keys come in order: each goes at the end, with no comparisons.
    if (!st.IsNull(col))
      a.evidence.emplace_hint(a.evidence.end(), kResultEvidenceKeys[i], st.Text(col));
  }
}

// kAttemptColumns from column `first` on.
AttemptRecord ReadAttempt(const Statement& st, int first = 0) {
  AttemptRecord a;
  a.id = st.Int(first + 0);
  a.run_id = st.Int(first + 1);
  a.experiment_id = st.Int(first + 2);
  a.number = static_cast<uint32_t>(st.Int(first + 3));
  a.state = store::ParseAttemptState(st.Text(first + 4)).value_or(AttemptState::kFailed);
  a.server_node = st.Text(first + 5);
  a.client_node = st.Text(first + 6);
  a.step_id = st.Text(first + 7);
  a.endpoint_host = st.Text(first + 8);
  a.endpoint_port = static_cast<uint32_t>(st.Int(first + 9));
  a.error = st.Text(first + 10);
  a.samples_reported = static_cast<uint64_t>(st.Int(first + 11));
  a.created = FromMs(st.Int(first + 12));
  a.updated = FromMs(st.Int(first + 13));
  return a;
}

// A run's point, as ReadRunPoint reads it from column `first` on.
constexpr char kRunPointColumns[] = "r.idx, r.iommu, r.workload, r.vm, r.repetition, r.params";
// A run, as ReadRun reads it: its own columns, then its point's.
const std::string& RunColumns() {
  static const std::string columns =
      absl::StrCat("r.id, r.experiment_id, r.state, r.error, ", kRunPointColumns);
  return columns;
}
constexpr int kRunColumnCount = 10;

spec::RunPoint ReadRunPoint(const Statement& st, int first) {
  spec::RunPoint p;
  p.index = static_cast<uint32_t>(st.Int(first + 0));
  p.iommu = static_cast<v1::IommuMode>(st.Int(first + 1));
  p.workload = st.Text(first + 2);
  p.vm = st.Text(first + 3);
  p.repetition = static_cast<uint32_t>(st.Int(first + 4));
  p.params = DecodeMap(st.Text(first + 5));
  return p;
}

RunRecord ReadRun(const Statement& st) {
  RunRecord r;
  r.id = st.Int(0);
  r.experiment_id = st.Int(1);
  r.state = ParseRunState(st.Text(2)).value_or(RunState::kFailed);
  r.error = st.Text(3);
  r.point = ReadRunPoint(st, 4);
  return r;
}

}  // namespace

std::string JsonIds(const std::vector<int64_t>& ids) {
  return absl::StrCat("[", absl::StrJoin(ids, ","), "]");
}

void BindArgs(Statement& st, const std::vector<SqlArg>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::visit([&](const auto& v) { st.Bind(static_cast<int>(i + 1), v); }, args[i]);
  }
}

SqliteStore::SqliteStore(std::unique_ptr<sqlite::Database> db, const Clock* clock)
    : db_(std::move(db)),
      readers_(db_->path(), std::max(2u, std::thread::hardware_concurrency())),
      clock_(clock) {}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                               const Clock* clock) {
  ASSIGN_OR_RETURN(auto db, sqlite::Database::Open(path));
  ASSIGN_OR_RETURN(int64_t version, db->QueryInt("PRAGMA user_version"));
  if (version > LatestSchemaVersion()) {
    return absl::FailedPreconditionError(
        absl::StrCat("database ", path, " has schema version ", version,
                     " but this iommuvm-controller knows versions up to ",
                     LatestSchemaVersion(), "; run a newer iommuvm-controller"));
  }
  // Group commit: one Sync for many commits, before what depends on them.
  RETURN_IF_ERROR(db->EnableWal(sqlite::Database::Durability::kSyncExplicitly));
  RETURN_IF_ERROR(db->Exec("PRAGMA cache_size=-65536"));
  std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(db), clock));
  store->schema_version_ = static_cast<int>(version);
  RETURN_IF_ERROR(store->Migrate());
  return store;
}

absl::Status SqliteStore::Migrate() {
  const auto& migrations = Migrations();
  for (int v = schema_version_; v < static_cast<int>(migrations.size()); ++v) {
    sqlite::Transaction tx(*db_);
    RETURN_IF_ERROR(tx.status());
    RETURN_IF_ERROR(db_->Exec(migrations[v]));
    RETURN_IF_ERROR(db_->Exec(absl::StrCat("PRAGMA user_version = ", v + 1)));
    RETURN_IF_ERROR(tx.Commit());
    schema_version_ = v + 1;
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::InsertAttempt(int64_t run_id, uint32_t number, int64_t now_ms) {
  ASSIGN_OR_RETURN(Statement * st,
                   db_->Cached("INSERT INTO attempts (run_id, number, state, created_ms, "
                               "updated_ms) VALUES (?, ?, ?, ?, ?)"));
  return st->BindAll(run_id, number, AttemptStateName(AttemptState::kPending), now_ms, now_ms)
      .Run();
}

absl::StatusOr<int64_t> SqliteStore::CreateExperiment(const NewExperiment& e) {
  std::lock_guard lock(mu_);
  int64_t now = absl::ToUnixMillis(clock_->Now());
  sqlite::Transaction tx(*db_);
  RETURN_IF_ERROR(tx.status());
  ASSIGN_OR_RETURN(Statement ins,
                   db_->Prepare("INSERT INTO experiments (name, spec_yaml, spec_sha256, "
                                "state, created_ms) VALUES (?, ?, ?, ?, ?)"));
  RETURN_IF_ERROR(ins.BindAll(e.name, e.spec_yaml, e.spec_sha256,
                              ExperimentStateName(ExperimentState::kQueued), now)
                      .Run());
  int64_t id = db_->LastInsertId();
  RETURN_IF_ERROR(InsertRuns(id, e.runs));
  // The first attempts in one statement after the runs: one index at a
  // time stays in the cache (interleaved, a 100k-run submit took twice as
  // long as copying the same rows).
  ASSIGN_OR_RETURN(Statement attempts,
                   db_->Prepare("INSERT INTO attempts (run_id, number, state, created_ms, "
                                "updated_ms) SELECT id, 1, ?, ?, ? FROM runs WHERE experiment_id "
                                "= ? ORDER BY idx"));
  RETURN_IF_ERROR(attempts.BindAll(AttemptStateName(AttemptState::kPending), now, now, id).Run());
  RETURN_IF_ERROR(tx.Commit());
  return id;
}

namespace {

// An insert of `rows` PENDING runs; BindRun binds each.
constexpr int kRunInsertColumns = 8;
std::string RunInsertSql(size_t rows) {
  std::vector<std::string> values(rows, "(?, ?, ?, ?, ?, ?, ?, ?)");
  return absl::StrCat("INSERT INTO runs (experiment_id, idx, iommu, workload, vm, repetition, ",
                      "params, state) VALUES ", absl::StrJoin(values, ", "));
}

// Row `row` of a RunInsertSql statement.
void BindRun(Statement& st, size_t row, int64_t experiment_id, const spec::RunPoint& point) {
  int at = static_cast<int>(row) * kRunInsertColumns;
  st.Bind(at + 1, experiment_id)
      .Bind(at + 2, point.index)
      .Bind(at + 3, static_cast<int>(point.iommu))
      .Bind(at + 4, point.workload)
      .Bind(at + 5, point.vm)
      .Bind(at + 6, point.repetition)
      .Bind(at + 7, EncodeMap(point.params))
      .Bind(at + 8, RunStateName(RunState::kPending));
}

}  // namespace

absl::Status SqliteStore::InsertRuns(int64_t experiment_id, const std::vector<RunRecord>& runs) {
  // Many rows to a statement: a statement per run cost as much again as
  // writing the rows (100k runs: 0.55 s, against 0.25 s 256 at a time).
  constexpr size_t kRunsPerInsert = 256;
  static const std::string kFullInsert = RunInsertSql(kRunsPerInsert);
  for (size_t first = 0; first < runs.size(); first += kRunsPerInsert) {
    size_t count = std::min(kRunsPerInsert, runs.size() - first);
    // The full statement is kept; the last, short one is made for this
    // submit only (a kept one per length would pile up).
    std::optional<Statement> short_one;
    Statement* st = nullptr;
    if (count == kRunsPerInsert) {
      ASSIGN_OR_RETURN(st, db_->Cached(kFullInsert));
    } else {
      absl::StatusOr<Statement> prepared = db_->Prepare(RunInsertSql(count));
      if (!prepared.ok()) return prepared.status();
      st = &short_one.emplace(std::move(*prepared));
    }
    for (size_t i = 0; i < count; ++i) BindRun(*st, i, experiment_id, runs[first + i].point);
    RETURN_IF_ERROR(st->Run());
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::InsertRun(int64_t experiment_id, const spec::RunPoint& point,
                                    int64_t now_ms) {
  static const std::string kOneRun = RunInsertSql(1);
  ASSIGN_OR_RETURN(Statement * run, db_->Cached(kOneRun));
  BindRun(*run, 0, experiment_id, point);
  RETURN_IF_ERROR(run->Run());
  return InsertAttempt(db_->LastInsertId(), 1, now_ms);
}

absl::StatusOr<ExperimentRecord> SqliteStore::GetExperiment(int64_t id) {
  ASSIGN_OR_RETURN(sqlite::Readers::Lease db, readers_.Borrow());
  ASSIGN_OR_RETURN(Statement * st,
                   db->Cached("SELECT id, name, spec_yaml, spec_sha256, state, created_ms, "
                              "finished_ms FROM experiments WHERE id = ?"));
  st->BindAll(id);
  ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return absl::NotFoundError(absl::StrCat("no experiment ", id));
  ExperimentRecord e;
  e.id = st->Int(0);
  e.name = st->Text(1);
  e.spec_yaml = st->Text(2);
  e.spec_sha256 = st->Text(3);
  e.state = ParseExperimentState(st->Text(4)).value_or(ExperimentState::kFailed);
  e.created = FromMs(st->Int(5));
  if (!st->IsNull(6)) e.finished = FromMs(st->Int(6));
  return e;
}

absl::StatusOr<std::vector<ExperimentRecord>> SqliteStore::ListExperiments() {
  std::vector<int64_t> ids;
  {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(Statement st, db_->Prepare("SELECT id FROM experiments ORDER BY id DESC"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      ids.push_back(st.Int(0));
    }
  }
  std::vector<ExperimentRecord> out;
  for (int64_t id : ids) {
    ASSIGN_OR_RETURN(ExperimentRecord e, GetExperiment(id));
    e.spec_yaml.clear();
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<std::vector<RunRecord>> SqliteStore::QueryRuns(const std::string& where,
                                                              const std::vector<SqlArg>& args) {
  ASSIGN_OR_RETURN(sqlite::Readers::Lease db, readers_.Borrow());
  ASSIGN_OR_RETURN(Statement * st,
                   db->Cached(absl::StrCat("SELECT ", RunColumns(), " FROM runs r ", where)));
  BindArgs(*st, args);
  std::vector<RunRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out.push_back(ReadRun(*st));
  }
  return out;
}

absl::StatusOr<std::vector<RunRecord>> SqliteStore::ListRuns(int64_t experiment_id) {
  return QueryRuns("WHERE experiment_id = ? ORDER BY idx", {experiment_id});
}

absl::StatusOr<std::vector<RunRecord>> SqliteStore::ListRuns(int64_t experiment_id,
                                                             int64_t after_index, int64_t limit) {
  return QueryRuns("WHERE experiment_id = ? AND idx > ? ORDER BY idx LIMIT ?",
                   {experiment_id, after_index, limit});
}

absl::StatusOr<std::vector<int64_t>> SqliteStore::PageStarts(int64_t experiment_id,
                                                             int64_t page_size) {
  ASSIGN_OR_RETURN(sqlite::Readers::Lease db, readers_.Borrow());
  // Every page_size-th run's index, but the last run's (no page after it).
  // A plan's indexes are 0..n-1: then they follow from the count (a window
  // function over the runs took 12 ms at 10k); else from the index, read
  // through once.
  std::vector<int64_t> out;
  ASSIGN_OR_RETURN(Statement * range, db->Cached("SELECT COUNT(*), MIN(idx), MAX(idx) FROM runs "
                                                 "WHERE experiment_id = ?"));
  range->BindAll(experiment_id);
  ASSIGN_OR_RETURN(bool row, range->Step());
  int64_t count = row ? range->Int(0) : 0, first = row ? range->Int(1) : 0,
          last = row ? range->Int(2) : 0;
  range->Reset();
  if (count == 0 || page_size <= 0) return out;
  if (first == 0 && last == count - 1) {
    for (int64_t after = page_size - 1; after < count - 1; after += page_size) out.push_back(after);
    return out;
  }
  ASSIGN_OR_RETURN(Statement * st,
                   db->Cached("SELECT idx FROM runs WHERE experiment_id = ? ORDER BY idx"));
  st->BindAll(experiment_id);
  for (int64_t n = 1;; ++n) {
    ASSIGN_OR_RETURN(bool more, st->Step());
    if (!more) break;
    if (n % page_size == 0 && n < count) out.push_back(st->Int(0));
  }
  st->Reset();
  return out;
}

absl::StatusOr<std::vector<RunRecord>> SqliteStore::RunsChangedSince(int64_t experiment_id,
                                                                     int64_t change) {
  return QueryRuns("WHERE experiment_id = ? AND changed > ? ORDER BY idx", {experiment_id, change});
}

absl::StatusOr<std::vector<RunRecord>> SqliteStore::RunsIn(int64_t experiment_id, RunState state) {
  return QueryRuns(
      absl::StrCat("WHERE experiment_id = ? AND state = '", RunStateName(state), "' ORDER BY idx"),
      {experiment_id});
}

absl::StatusOr<RunRecord> SqliteStore::GetRun(int64_t run_id) {
  ASSIGN_OR_RETURN(std::vector<RunRecord> runs, QueryRuns("WHERE id = ?", {run_id}));
  if (runs.empty()) return absl::NotFoundError(absl::StrCat("no run ", run_id));
  return runs.front();
}

absl::StatusOr<std::vector<AttemptRecord>> SqliteStore::QueryAttempts(
    sqlite::Database& db, const std::string& where, const std::vector<SqlArg>& args,
    const std::optional<std::vector<std::string>>& evidence) {
  ASSIGN_OR_RETURN(Statement * st, db.Cached(absl::StrCat(
                                       "SELECT ", kAttemptColumns,
                                       " FROM attempts a JOIN runs r ON r.id = a.run_id ", where)));
  BindArgs(*st, args);
  std::vector<AttemptRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out.push_back(ReadAttempt(*st));
  }
  st->Reset();
  if (!evidence) return out;
  if (evidence->empty()) {
    RETURN_IF_ERROR(AddEvidence(db, out,
                                "SELECT e.attempt_id, e.key, e.value FROM json_each(?1) j "
                                "CROSS JOIN attempt_evidence e WHERE e.attempt_id = j.value",
                                {}));
    return out;
  }
  // Keys by prefix: a range [prefix, prefix with its last byte + 1) of
  // the (attempt_id, key) primary key each, bound as [[from, to], ...].
  std::string ranges = "[";
  for (const std::string& prefix : *evidence) {
    std::string end = prefix;
    ++end.back();
    absl::StrAppend(&ranges, ranges.size() > 1 ? "," : "", "[", JsonEscape(prefix), ",",
                    JsonEscape(end), "]");
  }
  ranges += "]";
  RETURN_IF_ERROR(AddEvidence(db, out,
                              "SELECT e.attempt_id, e.key, e.value FROM json_each(?1) j "
                              "CROSS JOIN json_each(?2) p CROSS JOIN attempt_evidence e "
                              "WHERE e.attempt_id = j.value AND e.key >= p.value ->> 0 "
                              "AND e.key < p.value ->> 1",
                              {ranges}));
  return out;
}

absl::Status SqliteStore::AddEvidence(sqlite::Database& db, std::vector<AttemptRecord>& attempts,
                                      const std::string& query,
                                      const std::vector<SqlArg>& more_args) {
  std::unordered_map<int64_t, AttemptRecord*> by_id;
  std::vector<int64_t> ids;
  for (AttemptRecord& a : attempts) {
    if (a.state == AttemptState::kPending && attempts.size() > 1) continue;
    by_id[a.id] = &a;
    ids.push_back(a.id);
  }
  if (ids.empty()) return absl::OkStatus();
  // In key order, each attempt's keys one after another: its evidence
  // pages are read once (a page of 1,000 attempts' evidence is more than
  // SQLite's page cache holds; a query per prefix read each page again).
  std::sort(ids.begin(), ids.end());
  ASSIGN_OR_RETURN(Statement * ev, db.Cached(query));
  std::vector<SqlArg> args = {JsonIds(ids)};
  args.insert(args.end(), more_args.begin(), more_args.end());
  BindArgs(*ev, args);
  while (true) {
    ASSIGN_OR_RETURN(bool row, ev->Step());
    if (!row) break;
    by_id.at(ev->Int(0))->evidence[ev->Text(1)] = ev->Text(2);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<AttemptRecord>> SqliteStore::ListAttempts(int64_t experiment_id) {
  std::lock_guard lock(mu_);
  return QueryAttempts(*db_, "WHERE r.experiment_id = ? ORDER BY r.idx, a.number", {experiment_id},
                       kAllEvidence);
}

absl::StatusOr<std::vector<AttemptRecord>> SqliteStore::AttemptsOfRuns(
    const std::vector<int64_t>& run_ids, const std::vector<std::string>& evidence_prefixes) {
  if (run_ids.empty()) return std::vector<AttemptRecord>();
  ASSIGN_OR_RETURN(sqlite::Readers::Lease db, readers_.Borrow());
  return QueryAttempts(
      *db, "WHERE a.run_id IN (SELECT value FROM json_each(?)) ORDER BY r.idx, a.number",
      {JsonIds(run_ids)}, evidence_prefixes);
}

absl::StatusOr<Store::RunsWithLatestAttempts> SqliteStore::RunsForResults(int64_t experiment_id,
                                                                          int64_t after_index,
                                                                          int64_t limit) {
  ASSIGN_OR_RETURN(sqlite::Readers::Lease db, readers_.Borrow());
  // The runs, their latest attempts and those attempts' result evidence in
  // one join (a pending attempt has no facts row).
  static const std::string kQuery =
      absl::StrCat("SELECT ", RunColumns(), ", ", kAttemptColumns, ", ", ResultFactColumns(),
                   " FROM runs r LEFT JOIN attempts a ON a.run_id = r.id AND a.number = "
                   "(SELECT MAX(number) FROM attempts m WHERE m.run_id = r.id) "
                   "LEFT JOIN result_facts f ON f.attempt_id = a.id "
                   "WHERE r.experiment_id = ? AND r.idx > ? ORDER BY r.idx LIMIT ?");
  ASSIGN_OR_RETURN(Statement * st, db->Cached(kQuery));
  st->BindAll(experiment_id, after_index, limit);
  RunsWithLatestAttempts out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out.runs.push_back(ReadRun(*st));
    if (st->IsNull(kRunColumnCount)) continue;  // never attempted
    out.attempts.push_back(ReadAttempt(*st, kRunColumnCount));
    ReadResultFacts(*st, kRunColumnCount + kAttemptColumnCount, out.attempts.back());
  }
  st->Reset();
  return out;
}

absl::StatusOr<AttemptRecord> SqliteStore::GetAttempt(int64_t attempt_id) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(auto found, QueryAttempts(*db_, "WHERE a.id = ?", {attempt_id}, kAllEvidence));
  if (found.empty()) return absl::NotFoundError(absl::StrCat("no attempt ", attempt_id));
  return found.front();
}

absl::StatusOr<std::vector<AttemptRecord>> SqliteStore::OpenAttempts() {
  std::lock_guard lock(mu_);
  // IN, not NOT IN: the state index finds them without reading every attempt.
  static const std::string kWhere = absl::StrCat(
      "WHERE a.state IN (", SqlStateList([](AttemptState s) { return !IsTerminal(s); }), ") ",
      "ORDER BY r.experiment_id, r.idx, a.number");
  return QueryAttempts(*db_, kWhere, {}, kAllEvidence);
}

absl::StatusOr<std::vector<AttemptRecord>> SqliteStore::ActiveAttempts() {
  std::lock_guard lock(mu_);
  static const std::string kWhere = absl::StrCat(
      "WHERE a.state IN (",
      SqlStateList([](AttemptState s) { return s != AttemptState::kPending && !IsTerminal(s); }),
      ") ORDER BY a.id");
  return QueryAttempts(*db_, kWhere, {}, kAllEvidence);
}

absl::StatusOr<std::vector<PendingAttempt>> SqliteStore::PendingAttempts(int64_t experiment_id) {
  std::lock_guard lock(mu_);
  sqlite::Database* db = db_.get();
  static const std::string kQuery =
      absl::StrCat("SELECT a.id, ", kRunPointColumns,
                   " FROM attempts a JOIN runs r ON r.id = a.run_id WHERE a.state = ",
                   SqlStateList([](AttemptState s) { return s == AttemptState::kPending; }),
                   " AND r.experiment_id = ? ORDER BY r.idx");
  ASSIGN_OR_RETURN(Statement * st, db->Cached(kQuery));
  st->BindAll(experiment_id);
  std::vector<PendingAttempt> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out.push_back({st->Int(0), ReadRunPoint(*st, 1)});
  }
  return out;
}

absl::StatusOr<uint32_t> SqliteStore::AttemptCount(int64_t run_id) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Statement st, db_->Prepare("SELECT COUNT(*) FROM attempts WHERE run_id = ?"));
  st.BindAll(run_id);
  ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? static_cast<uint32_t>(st.Int(0)) : 0;
}

absl::Status SqliteStore::UpsertNode(const NodeRecord& n) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(
      Statement st,
      db_->Prepare("INSERT INTO nodes (agent_id, roles, labels, boot_id, kernel_cmdline, "
                   "hostname, data_address, health, losses, last_seen_ms, cpu_vendor, "
                   "iommu_mode, inventory, tools, outbox_epoch, simulated, health_reason) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON "
                   "CONFLICT(agent_id) DO UPDATE "
                   "SET roles=excluded.roles, labels=excluded.labels, boot_id=excluded.boot_id, "
                   "kernel_cmdline=excluded.kernel_cmdline, hostname=excluded.hostname, "
                   "data_address=excluded.data_address, health=excluded.health, "
                   "losses=excluded.losses, last_seen_ms=excluded.last_seen_ms, "
                   "cpu_vendor=excluded.cpu_vendor, iommu_mode=excluded.iommu_mode, "
                   "inventory=excluded.inventory, tools=excluded.tools, "
                   "outbox_epoch=excluded.outbox_epoch, simulated=excluded.simulated, "
                   "health_reason=excluded.health_reason"));
  return st
      .BindAll(n.agent_id, EncodeRoles(n.roles), EncodeMap(n.labels), n.boot_id, n.kernel_cmdline,
               n.hostname, n.data_address, NodeHealthName(n.health), n.losses,
               absl::ToUnixMillis(n.last_seen), n.cpu_vendor, n.iommu_mode, n.inventory_json,
               EncodeMap(n.tools), n.outbox_epoch, n.simulated ? 1 : 0, n.health_reason)
      .Run();
}

absl::StatusOr<std::vector<NodeRecord>> SqliteStore::ListNodes() {
  return QueryNodes("ORDER BY agent_id", "");
}

absl::StatusOr<std::optional<NodeRecord>> SqliteStore::GetNode(const std::string& agent_id) {
  ASSIGN_OR_RETURN(auto found, QueryNodes("WHERE agent_id = ?", agent_id));
  if (found.empty()) return std::optional<NodeRecord>();
  return std::optional<NodeRecord>(std::move(found.front()));
}

absl::StatusOr<std::vector<NodeRecord>> SqliteStore::QueryNodes(const std::string& where,
                                                                const std::string& arg) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Statement st,
                   db_->Prepare(absl::StrCat(
                       "SELECT agent_id, roles, labels, boot_id, kernel_cmdline, "
                       "hostname, data_address, health, losses, last_seen_ms, "
                       "cpu_vendor, iommu_mode, inventory, tools, outbox_epoch, simulated, "
                       "health_reason FROM nodes ",
                       where)));
  if (!arg.empty()) st.BindAll(arg);
  std::vector<NodeRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    NodeRecord n;
    n.agent_id = st.Text(0);
    n.roles = DecodeRoles(st.Text(1));
    n.labels = DecodeMap(st.Text(2));
    n.boot_id = st.Text(3);
    n.kernel_cmdline = st.Text(4);
    n.hostname = st.Text(5);
    n.data_address = st.Text(6);
    n.health = ParseNodeHealth(st.Text(7)).value_or(NodeHealth::kLost);
    n.losses = static_cast<uint32_t>(st.Int(8));
    n.last_seen = FromMs(st.Int(9));
    n.cpu_vendor = st.Text(10);
    n.iommu_mode = st.Text(11);
    n.inventory_json = st.Text(12);
    n.tools = DecodeMap(st.Text(13));
    n.outbox_epoch = st.Text(14);
    n.simulated = st.Int(15) != 0;
    n.health_reason = st.Text(16);
    out.push_back(std::move(n));
  }
  return out;
}

absl::Status SqliteStore::ApplyAttemptUpdate(const AttemptUpdate& u, int64_t now_ms) {
  RETURN_IF_ERROR(CheckTransition(u.from, u.to));
  std::vector<std::string> sets = {"state = ?1", "updated_ms = ?2",
                                   "samples_reported = samples_reported + ?3"};
  if (u.error) sets.push_back("error = ?4");
  if (u.step_id) sets.push_back("step_id = ?5");
  if (u.nodes) sets.push_back("server_node = ?6, client_node = ?7");
  if (u.endpoint) sets.push_back("endpoint_host = ?8, endpoint_port = ?9");
  ASSIGN_OR_RETURN(Statement st,
                   db_->Prepare(absl::StrCat("UPDATE attempts SET ", absl::StrJoin(sets, ", "),
                                             " WHERE id = ?10 AND state = ?11")));
  st.Bind(1, store::AttemptStateName(u.to)).Bind(2, now_ms).Bind(3, u.add_samples_reported);
  if (u.error) st.Bind(4, *u.error);
  if (u.step_id) st.Bind(5, *u.step_id);
  if (u.nodes) st.Bind(6, u.nodes->first).Bind(7, u.nodes->second);
  if (u.endpoint) st.Bind(8, u.endpoint->first).Bind(9, u.endpoint->second);
  st.Bind(10, u.attempt_id).Bind(11, store::AttemptStateName(u.from));
  RETURN_IF_ERROR(st.Run());
  if (db_->Changes() != 1) {
    return absl::AbortedError(
        absl::StrCat("attempt ", u.attempt_id, " is no longer ", store::AttemptStateName(u.from)));
  }
  for (const auto& [k, v] : u.evidence) RETURN_IF_ERROR(PutEvidence(u.attempt_id, k, v));
  return absl::OkStatus();
}

absl::Status SqliteStore::PutEvidence(int64_t attempt_id, const std::string& key,
                                      const std::string& value) {
  ASSIGN_OR_RETURN(Statement * ev,
                   db_->Cached("INSERT OR REPLACE INTO attempt_evidence (attempt_id, key, "
                               "value) VALUES (?, ?, ?)"));
  return ev->BindAll(attempt_id, key, value).Run();
}

absl::StatusOr<ApplyOutcome> SqliteStore::Apply(const Mutation& m) {
  std::lock_guard lock(mu_);
  sqlite::Transaction tx(*db_);
  RETURN_IF_ERROR(tx.status());
  ASSIGN_OR_RETURN(ApplyOutcome outcome, ApplyInTransaction(m, absl::ToUnixMillis(clock_->Now())));
  if (outcome == ApplyOutcome::kDuplicate) return outcome;  // tx rolls back
  RETURN_IF_ERROR(tx.Commit());
  return outcome;
}

std::vector<absl::StatusOr<ApplyOutcome>> SqliteStore::ApplyGroup(const std::vector<Mutation>& ms) {
  std::lock_guard lock(mu_);
  std::vector<absl::StatusOr<ApplyOutcome>> outcomes;
  sqlite::Transaction tx(*db_);
  if (!tx.status().ok()) return {ms.size(), tx.status()};
  int64_t now = absl::ToUnixMillis(clock_->Now());
  auto run = [&](const char* sql) -> absl::Status {
    ASSIGN_OR_RETURN(Statement * st, db_->Cached(sql));
    return st->Run();
  };
  std::set<std::string> failed;  // agents one of whose mutations failed
  for (const Mutation& m : ms) {
    if (m.dedupe && failed.count(m.dedupe->first)) {
      outcomes.push_back(
          absl::AbortedError(absl::StrCat("not applied: message ", m.dedupe->second, " of ",
                                          m.dedupe->first, " follows one of its own that failed")));
      continue;
    }
    if (absl::Status begun = run("SAVEPOINT mutation"); !begun.ok()) {
      outcomes.push_back(begun);
      continue;
    }
    absl::StatusOr<ApplyOutcome> outcome = ApplyInTransaction(m, now);
    if (!outcome.ok() || *outcome == ApplyOutcome::kDuplicate) {
      (void)run("ROLLBACK TO mutation");
    }
    absl::Status released = run("RELEASE mutation");
    outcomes.push_back(released.ok() ? std::move(outcome) : released);
    if (!outcomes.back().ok() && m.dedupe) failed.insert(m.dedupe->first);
  }
  if (absl::Status committed = tx.Commit(); !committed.ok()) {
    for (auto& outcome : outcomes) {
      if (outcome.ok()) outcome = committed;
    }
  }
  return outcomes;
}

absl::StatusOr<ApplyOutcome> SqliteStore::ApplyInTransaction(const Mutation& m, int64_t now) {
  if (m.dedupe) {
    ASSIGN_OR_RETURN(Statement * st,
                     db_->Cached("INSERT OR IGNORE INTO ingested (agent_id, seq) VALUES (?, ?)"));
    RETURN_IF_ERROR(st->BindAll(m.dedupe->first, m.dedupe->second).Run());
    if (db_->Changes() == 0) return ApplyOutcome::kDuplicate;  // tx rolls back
  }
  for (const AttemptUpdate& u : m.attempts) RETURN_IF_ERROR(ApplyAttemptUpdate(u, now));
  for (int64_t run_id : m.new_attempts) {
    ASSIGN_OR_RETURN(Statement * st,
                     db_->Cached("SELECT COALESCE(MAX(number), 0) FROM attempts WHERE run_id = ?"));
    st->BindAll(run_id);
    ASSIGN_OR_RETURN(bool row, st->Step());
    uint32_t next = row ? static_cast<uint32_t>(st->Int(0)) + 1 : 1;
    st->Reset();  // no read left open in the transaction
    RETURN_IF_ERROR(InsertAttempt(run_id, next, now));
  }
  for (const RunRecord& r : m.new_runs) RETURN_IF_ERROR(InsertRun(r.experiment_id, r.point, now));
  if (!m.runs.empty()) {
    ASSIGN_OR_RETURN(Statement * st,
                     db_->Cached("UPDATE runs SET state = ?, error = ? WHERE id = ?"));
    for (const RunUpdate& r : m.runs) {
      st->Reset();
      RETURN_IF_ERROR(st->BindAll(RunStateName(r.state), r.error, r.run_id).Run());
    }
  }
  for (const ExperimentUpdate& e : m.experiments) {
    ASSIGN_OR_RETURN(Statement * st,
                     db_->Cached("UPDATE experiments SET state = ?, finished_ms = ? WHERE id = ?"));
    st->BindAll(ExperimentStateName(e.state));
    if (e.finished) {
      st->Bind(2, now);
    } else {
      st->Bind(2, std::nullopt);
    }
    RETURN_IF_ERROR(st->Bind(3, e.experiment_id).Run());
  }
  if (!m.results.empty()) {
    ASSIGN_OR_RETURN(Statement * st,
                     db_->Cached(absl::StrCat("INSERT INTO run_results (", kResultColumns,
                                              ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")));
    for (const ResultRecord& r : m.results) {
      const v1::OperationResult& o = r.result;
      st->Reset();
      RETURN_IF_ERROR(st->BindAll(r.attempt_id, r.run_id, r.tool, r.tool_version, o.operation(),
                                  o.throughput_ops(), o.throughput_bytes(), o.latency_mean_us(),
                                  o.latency_min_us(), o.latency_p50_us(), o.latency_p90_us(),
                                  o.latency_p95_us(), o.latency_p99_us(), o.latency_p999_us(),
                                  o.latency_max_us(), o.requests(), o.errors(), o.duration_s())
                          .Run());
    }
  }
  if (!m.samples.empty()) {
    ASSIGN_OR_RETURN(Statement * st,
                     db_->Cached("INSERT INTO metric_samples (attempt_id, agent_id, name, "
                                 "labels, ts_ms, value) VALUES (?, ?, ?, ?, ?, ?)"));
    for (const SampleRecord& s : m.samples) {
      std::map<std::string, std::string> labels(s.sample.labels().begin(), s.sample.labels().end());
      st->Reset();
      RETURN_IF_ERROR(st->BindAll(s.attempt_id, s.agent_id, s.sample.name(), EncodeMap(labels),
                                  s.sample.timestamp_ms(), s.sample.value())
                          .Run());
    }
  }
  if (!m.artifacts.empty()) {
    ASSIGN_OR_RETURN(Statement * st,
                     db_->Cached("INSERT OR REPLACE INTO artifacts (attempt_id, name, content) "
                                 "VALUES (?, ?, ?)"));
    for (const ArtifactRecord& a : m.artifacts) {
      st->Reset();
      RETURN_IF_ERROR(st->BindAll(a.attempt_id, a.name, a.content).Run());
    }
  }
  if (!m.events.empty()) {
    ASSIGN_OR_RETURN(Statement * st,
                     db_->Cached("INSERT INTO events (ts_ms, experiment_id, run_id, attempt_id, "
                                 "agent_id, kind, message) VALUES (?, ?, ?, ?, ?, ?, ?)"));
    for (const EventRecord& e : m.events) {
      st->Reset();
      RETURN_IF_ERROR(
          st->BindAll(now, e.experiment_id, e.run_id, e.attempt_id, e.agent_id, e.kind, e.message)
              .Run());
    }
  }
  for (const auto& [attempt_id, key, value] : m.evidence) {
    RETURN_IF_ERROR(PutEvidence(attempt_id, key, value));
  }
  for (const auto& [attempt_id, agent_id] : m.cleanups_owed) {
    ASSIGN_OR_RETURN(Statement * st, db_->Cached("INSERT OR REPLACE INTO pending_cleanups "
                                                 "(attempt_id, agent_id) VALUES (?, ?)"));
    RETURN_IF_ERROR(st->BindAll(attempt_id, agent_id).Run());
  }
  for (int64_t attempt_id : m.cleanups_done) {
    ASSIGN_OR_RETURN(Statement * st,
                     db_->Cached("DELETE FROM pending_cleanups WHERE attempt_id = ?"));
    RETURN_IF_ERROR(st->BindAll(attempt_id).Run());
  }
  if (m.rejection) {
    const RejectionRecord& r = *m.rejection;
    ASSIGN_OR_RETURN(Statement * st,
                     db_->Cached("INSERT OR REPLACE INTO rejected_messages (agent_id, seq, kind, "
                                 "reason, ts_ms) VALUES (?, ?, ?, ?, ?)"));
    RETURN_IF_ERROR(st->BindAll(r.agent_id, r.seq, r.kind, r.reason, now).Run());
  }
  // An attempt that ended has all the samples it will have (a batch that
  // comes later is dropped): summarized now, with this mutation's own.
  for (const AttemptUpdate& u : m.attempts) {
    if (IsTerminal(u.to)) RETURN_IF_ERROR(SummarizeEndedAttempt(u.attempt_id));
  }
  return ApplyOutcome::kApplied;
}

absl::Status SqliteStore::SummarizeEndedAttempt(int64_t attempt_id) {
  AttemptRecord a;
  a.id = attempt_id;
  static const std::string kQuery = absl::StrCat(
      "SELECT a.server_node, ", ResultFactColumns(),
      " FROM attempts a LEFT JOIN result_facts f ON f.attempt_id = a.id WHERE a.id = ?");
  ASSIGN_OR_RETURN(Statement * node, db_->Cached(kQuery));
  node->BindAll(attempt_id);
  ASSIGN_OR_RETURN(bool found, node->Step());
  if (found) {
    a.server_node = node->Text(0);
    ReadResultFacts(*node, 1, a);
  }
  node->Reset();  // no read left open in the transaction
  if (!found) return absl::OkStatus();
  SampleWindow w = SampleWindowOf(a);
  ASSIGN_OR_RETURN(Statement * summary,
                   db_->Cached("INSERT OR REPLACE INTO sample_summaries (attempt_id, agent_id, "
                               "from_ms, to_ms, samples) SELECT ?1, ?2, ?3, ?4, COUNT(*) "
                               "FROM metric_samples WHERE attempt_id = ?1"));
  RETURN_IF_ERROR(summary->BindAll(w.attempt_id, w.agent_id, w.from_ms, w.to_ms).Run());
  ASSIGN_OR_RETURN(Statement * clear, db_->Cached("DELETE FROM sample_means WHERE attempt_id = ?"));
  RETURN_IF_ERROR(clear->BindAll(attempt_id).Run());
  static const std::string kInsert =
      absl::StrCat("INSERT INTO sample_means (attempt_id, name, mean) SELECT ?3, name, mean FROM (",
                   kWindowMeansQuery, ")");
  ASSIGN_OR_RETURN(Statement * means, db_->Cached(kInsert));
  return means->BindAll(absl::StrCat("[", WindowJson(0, w), "]"), "[]", attempt_id).Run();
}

absl::StatusOr<std::vector<int64_t>> SqliteStore::CleanupsOwedBy(const std::string& agent_id) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Statement st, db_->Prepare("SELECT attempt_id FROM pending_cleanups WHERE "
                                              "agent_id = ? ORDER BY attempt_id"));
  st.BindAll(agent_id);
  std::vector<int64_t> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(st.Int(0));
  }
  return out;
}

absl::StatusOr<std::map<std::string, RejectionSummary>> SqliteStore::Rejections() {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Statement st,
                   db_->Prepare("SELECT agent_id, COUNT(*), MAX(seq), (SELECT reason FROM "
                                "rejected_messages l WHERE l.agent_id = r.agent_id ORDER BY "
                                "seq DESC LIMIT 1) FROM rejected_messages r GROUP BY agent_id"));
  std::map<std::string, RejectionSummary> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out[st.Text(0)] = {st.Int(1), static_cast<uint64_t>(st.Int(2)), st.Text(3)};
  }
  return out;
}

absl::Status SqliteStore::Sync() {
  // No lock: fsync of the log file, whatever the connection is doing.
  return db_->SyncWal();
}

absl::StatusOr<uint64_t> SqliteStore::CommittedSeq(const std::string& agent_id) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Statement st,
                   db_->Prepare("SELECT COALESCE(MAX(seq), 0) FROM ingested WHERE agent_id = ?"));
  st.BindAll(agent_id);
  ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? static_cast<uint64_t>(st.Int(0)) : 0;
}

}  // namespace iommuvm::store
