// SqliteStore, what was measured: results, artifacts, samples and run
// counts (the experiment/run/attempt/node state and Apply are in
// sqlite_store.cc).
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/table.h"
#include "controller/store/sqlite_store.h"

namespace iommuvm::store {

using sqlite::Statement;

// What a window's means are, for a page of windows read now and for an
// ended attempt's stored summary alike: ?1 the windows as a JSON array of
// [position, attempt, agent, from, to], ?2 the names (a JSON array, [] for
// all). Rows (i, name, mean). Each window seeks its attempt's samples
// (metric_samples_by_attempt); its fields are taken out of the JSON once
// (MATERIALIZED), not for every sample compared: a quarter of the time
// at 200 samples a window.
const char* const kWindowMeansQuery =
    "WITH w AS MATERIALIZED (SELECT value ->> 0 AS i, value ->> 1 AS attempt, "
    "value ->> 2 AS agent, value ->> 3 AS from_ms, value ->> 4 AS to_ms "
    "FROM json_each(?1)) "
    "SELECT w.i AS i, s.name AS name, AVG(s.value) AS mean FROM w CROSS JOIN metric_samples s "
    "WHERE s.attempt_id = w.attempt AND s.agent_id = w.agent AND s.labels = '' "
    "AND (?2 = '[]' OR s.name IN (SELECT value FROM json_each(?2))) "
    "AND (w.to_ms = 0 OR (s.ts_ms > w.from_ms AND s.ts_ms <= w.to_ms)) "
    "GROUP BY w.i, s.name";

std::string WindowJson(size_t position, const SampleWindow& w) {
  return absl::StrCat("[", position, ",", w.attempt_id, ",", JsonEscape(w.agent_id), ",", w.from_ms,
                      ",", w.to_ms, "]");
}

absl::StatusOr<std::vector<ResultRecord>> SqliteStore::QueryResults(
    const std::string& where, const std::vector<SqlArg>& args) {
  ASSIGN_OR_RETURN(sqlite::Readers::Lease db, readers_.Borrow());
  ASSIGN_OR_RETURN(Statement * statement,
                   db->Cached(absl::StrCat("SELECT ", kResultColumns, " FROM run_results ", where,
                                           " ORDER BY run_id, id")));
  Statement& st = *statement;
  BindArgs(st, args);
  std::vector<ResultRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    ResultRecord r;
    r.attempt_id = st.Int(0);
    r.run_id = st.Int(1);
    r.tool = st.Text(2);
    r.tool_version = st.Text(3);
    v1::OperationResult& o = r.result;
    o.set_operation(st.Text(4));
    o.set_throughput_ops(st.Double(5));
    o.set_throughput_bytes(st.Double(6));
    o.set_latency_mean_us(st.Double(7));
    o.set_latency_min_us(st.Double(8));
    o.set_latency_p50_us(st.Double(9));
    o.set_latency_p90_us(st.Double(10));
    o.set_latency_p95_us(st.Double(11));
    o.set_latency_p99_us(st.Double(12));
    o.set_latency_p999_us(st.Double(13));
    o.set_latency_max_us(st.Double(14));
    o.set_requests(static_cast<uint64_t>(st.Int(15)));
    o.set_errors(static_cast<uint64_t>(st.Int(16)));
    o.set_duration_s(st.Double(17));
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<std::vector<ResultRecord>> SqliteStore::ResultsOfExperiment(int64_t id) {
  return QueryResults("WHERE run_id IN (SELECT id FROM runs WHERE experiment_id = ?)", {id});
}

absl::StatusOr<std::vector<ResultRecord>> SqliteStore::ResultsOfAttempt(int64_t attempt_id) {
  return QueryResults("WHERE attempt_id = ?", {attempt_id});
}

absl::StatusOr<std::vector<ResultRecord>> SqliteStore::ResultsOfRuns(
    const std::vector<int64_t>& run_ids) {
  if (run_ids.empty()) return std::vector<ResultRecord>();
  return QueryResults("WHERE run_id IN (SELECT value FROM json_each(?))", {JsonIds(run_ids)});
}

absl::StatusOr<int64_t> SqliteStore::LastChange() {
  ASSIGN_OR_RETURN(sqlite::Readers::Lease db, readers_.Borrow());
  ASSIGN_OR_RETURN(Statement * st, db->Cached("SELECT last FROM changes"));
  ASSIGN_OR_RETURN(bool row, st->Step());
  return row ? st->Int(0) : 0;
}

absl::StatusOr<bool> SqliteStore::AnyRunIn(int64_t experiment_id,
                                           const std::vector<RunState>& states) {
  std::vector<std::string> names;
  for (RunState s : states) names.push_back(absl::StrCat("'", RunStateName(s), "'"));
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Statement * st,
                   db_->Cached(absl::StrCat("SELECT EXISTS (SELECT 1 FROM runs WHERE "
                                            "experiment_id = ? AND state IN (",
                                            absl::StrJoin(names, ","), "))")));
  st->BindAll(experiment_id);
  ASSIGN_OR_RETURN(bool row, st->Step());
  bool any = row && st->Int(0) != 0;
  st->Reset();
  return any;
}

absl::StatusOr<std::vector<ArtifactRecord>> SqliteStore::ArtifactsOfAttempt(int64_t attempt_id) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Statement st, db_->Prepare("SELECT name, content FROM artifacts WHERE "
                                              "attempt_id = ? ORDER BY name"));
  st.BindAll(attempt_id);
  std::vector<ArtifactRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({attempt_id, st.Text(0), st.Text(1)});
  }
  return out;
}

absl::StatusOr<std::vector<SampleSummary>> SqliteStore::SummarizeSamples(
    const std::vector<SampleWindow>& windows, const std::vector<std::string>& names) {
  std::vector<SampleSummary> out(windows.size());
  if (windows.empty()) return out;
  std::string names_json = "[";
  for (const std::string& name : names) {
    absl::StrAppend(&names_json, names_json.size() > 1 ? "," : "", JsonEscape(name));
  }
  names_json += "]";
  std::vector<int64_t> ids;
  for (const SampleWindow& w : windows) ids.push_back(w.attempt_id);
  ASSIGN_OR_RETURN(sqlite::Readers::Lease db, readers_.Borrow());
  // Windows by position; an attempt may appear in several.
  std::unordered_multimap<int64_t, size_t> by_attempt;
  for (size_t i = 0; i < windows.size(); ++i) by_attempt.emplace(windows[i].attempt_id, i);

  // Ended attempts were summarized when they ended, over their window: a
  // window that is that one is answered from the summary.
  std::vector<bool> stored(windows.size(), false);
  std::vector<int64_t> stored_ids;
  ASSIGN_OR_RETURN(Statement * summaries,
                   db->Cached("SELECT s.attempt_id, s.agent_id, s.from_ms, s.to_ms, s.samples "
                              "FROM json_each(?) j CROSS JOIN sample_summaries s "
                              "WHERE s.attempt_id = j.value"));
  summaries->BindAll(JsonIds(ids));
  while (true) {
    ASSIGN_OR_RETURN(bool row, summaries->Step());
    if (!row) break;
    auto [first, last] = by_attempt.equal_range(summaries->Int(0));
    for (auto it = first; it != last; ++it) {
      const SampleWindow& w = windows[it->second];
      if (w.agent_id != summaries->Text(1) || w.from_ms != summaries->Int(2) ||
          w.to_ms != summaries->Int(3)) {
        continue;
      }
      stored[it->second] = true;
      out[it->second].count = static_cast<uint64_t>(summaries->Int(4));
      stored_ids.push_back(w.attempt_id);
    }
  }
  if (!stored_ids.empty()) {
    ASSIGN_OR_RETURN(Statement * means,
                     db->Cached("SELECT m.attempt_id, m.name, m.mean FROM json_each(?1) j "
                                "CROSS JOIN sample_means m WHERE m.attempt_id = j.value AND "
                                "(?2 = '[]' OR m.name IN (SELECT value FROM json_each(?2)))"));
    means->BindAll(JsonIds(stored_ids), names_json);
    while (true) {
      ASSIGN_OR_RETURN(bool row, means->Step());
      if (!row) break;
      auto [first, last] = by_attempt.equal_range(means->Int(0));
      for (auto it = first; it != last; ++it) {
        if (stored[it->second]) out[it->second].means[means->Text(1)] = means->Double(2);
      }
    }
  }

  // The others from their samples. The windows as one bound JSON array of
  // [position, attempt, agent, from, to]: prepared once, whatever the
  // page's size.
  std::string json = "[";
  std::vector<int64_t> live_ids;
  for (size_t i = 0; i < windows.size(); ++i) {
    if (stored[i]) continue;
    absl::StrAppend(&json, json.size() > 1 ? "," : "", WindowJson(i, windows[i]));
    live_ids.push_back(windows[i].attempt_id);
  }
  json += "]";
  if (live_ids.empty()) return out;
  ASSIGN_OR_RETURN(Statement * counts,
                   db->Cached("SELECT attempt_id, COUNT(*) FROM metric_samples WHERE attempt_id "
                              "IN (SELECT value FROM json_each(?)) GROUP BY attempt_id"));
  counts->BindAll(JsonIds(live_ids));
  while (true) {
    ASSIGN_OR_RETURN(bool row, counts->Step());
    if (!row) break;
    auto [first, last] = by_attempt.equal_range(counts->Int(0));
    for (auto it = first; it != last; ++it) {
      if (!stored[it->second]) out[it->second].count = counts->Int(1);
    }
  }
  ASSIGN_OR_RETURN(Statement * means, db->Cached(kWindowMeansQuery));
  means->BindAll(json, names_json);
  while (true) {
    ASSIGN_OR_RETURN(bool row, means->Step());
    if (!row) break;
    out[static_cast<size_t>(means->Int(0))].means[means->Text(1)] = means->Double(2);
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<int64_t, double>>> SqliteStore::SeriesOf(
    int64_t attempt_id, const std::string& agent_id, const std::string& name) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Statement st,
                   db_->Prepare("SELECT ts_ms, SUM(value) FROM metric_samples WHERE attempt_id = ? "
                                "AND agent_id = ? AND name = ? GROUP BY ts_ms ORDER BY ts_ms"));
  st.BindAll(attempt_id, agent_id, name);
  std::vector<std::pair<int64_t, double>> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.emplace_back(st.Int(0), st.Double(1));
  }
  return out;
}

absl::StatusOr<std::map<RunState, int64_t>> SqliteStore::RunStateCounts() {
  return CountRunStates(0);
}

absl::StatusOr<std::map<RunState, int64_t>> SqliteStore::RunStateCounts(int64_t experiment_id) {
  return CountRunStates(experiment_id);
}

absl::StatusOr<std::vector<SwitchTime>> SqliteStore::SwitchTimes() {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(
      Statement st,
      db_->Prepare("SELECT s.agent_id, m.value, MIN(v.ts_ms) - s.ts_ms FROM events s "
                   "JOIN events v ON v.attempt_id = s.attempt_id AND v.kind = 'verified' "
                   "AND v.ts_ms >= s.ts_ms "
                   "JOIN attempt_evidence m ON m.attempt_id = s.attempt_id AND "
                   "m.key = 'switch.method' "
                   "WHERE s.kind = 'switching' GROUP BY s.id ORDER BY s.ts_ms"));
  std::vector<SwitchTime> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({st.Text(0), st.Text(1), absl::Milliseconds(st.Int(2))});
  }
  return out;
}

absl::StatusOr<std::map<RunState, int64_t>> SqliteStore::CountRunStates(int64_t experiment_id) {
  ASSIGN_OR_RETURN(sqlite::Readers::Lease db, readers_.Borrow());
  ASSIGN_OR_RETURN(
      Statement * st,
      db->Cached(experiment_id == 0 ? "SELECT state, COUNT(*) FROM runs GROUP BY state"
                                    : "SELECT state, COUNT(*) FROM runs WHERE experiment_id = ? "
                                      "GROUP BY state"));
  if (experiment_id != 0) st->BindAll(experiment_id);
  std::map<RunState, int64_t> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out[ParseRunState(st->Text(0)).value_or(RunState::kFailed)] = st->Int(1);
  }
  return out;
}

}  // namespace iommuvm::store
