#pragma once
// Store on one SQLite file (WAL, numbered migrations). Thread-safe: every
// write, and every read a write path depends on, is serialized on one
// connection; the reads that serve pages (runs, results, attempts of runs,
// samples) borrow read-only connections and run beside it and each other.

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include "common/clock.h"
#include "common/sqlite.h"
#include "common/sqlite_readers.h"
#include "controller/store/store.h"

namespace iommuvm::store {

// A value bound to a query's ?: an integer, or text. A list of ids is the
// text of a JSON array, read by `IN (SELECT value FROM json_each(?))`: one
// statement, kept prepared, for a list of any length.
using SqlArg = std::variant<int64_t, std::string>;
std::string JsonIds(const std::vector<int64_t>& ids);
// The means of samples over windows (sqlite_store_queries.cc): the one
// definition the stored summaries and the pages' reads share.
extern const char* const kWindowMeansQuery;
// A window as kWindowMeansQuery binds it, at `position` in its array.
std::string WindowJson(size_t position, const SampleWindow& w);
// Binds args[i] to the statement's ? number i + 1.
void BindArgs(sqlite::Statement& st, const std::vector<SqlArg>& args);

class SqliteStore final : public Store {
 public:
  // Opens or creates the database and migrates it to the latest schema.
  // FailedPrecondition, touching nothing, when the file cannot be opened
  // for writing or has a schema newer than this binary knows.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                           const Clock* clock);

  absl::StatusOr<int64_t> CreateExperiment(const NewExperiment& e) override;
  absl::StatusOr<ExperimentRecord> GetExperiment(int64_t id) override;
  absl::StatusOr<std::vector<ExperimentRecord>> ListExperiments() override;
  absl::StatusOr<RunRecord> GetRun(int64_t run_id) override;
  absl::StatusOr<std::vector<RunRecord>> ListRuns(int64_t experiment_id) override;
  absl::StatusOr<std::vector<int64_t>> PageStarts(int64_t experiment_id,
                                                  int64_t page_size) override;
  absl::StatusOr<std::vector<RunRecord>> ListRuns(int64_t experiment_id, int64_t after_index,
                                                  int64_t limit) override;
  absl::StatusOr<std::vector<RunRecord>> RunsChangedSince(int64_t experiment_id,
                                                          int64_t change) override;
  absl::StatusOr<std::vector<RunRecord>> RunsIn(int64_t experiment_id, RunState state) override;
  absl::StatusOr<int64_t> LastChange() override;
  absl::StatusOr<bool> AnyRunIn(int64_t experiment_id,
                                const std::vector<RunState>& states) override;
  absl::StatusOr<std::vector<AttemptRecord>> AttemptsOfRuns(
      const std::vector<int64_t>& run_ids,
      const std::vector<std::string>& evidence_prefixes) override;
  absl::StatusOr<RunsWithLatestAttempts> RunsForResults(int64_t experiment_id, int64_t after_index,
                                                        int64_t limit) override;
  absl::StatusOr<std::vector<ResultRecord>> ResultsOfRuns(
      const std::vector<int64_t>& run_ids) override;
  absl::StatusOr<std::vector<AttemptRecord>> ListAttempts(int64_t experiment_id) override;
  absl::StatusOr<AttemptRecord> GetAttempt(int64_t attempt_id) override;
  absl::StatusOr<std::vector<AttemptRecord>> OpenAttempts() override;
  absl::StatusOr<std::vector<AttemptRecord>> ActiveAttempts() override;
  absl::StatusOr<std::vector<PendingAttempt>> PendingAttempts(int64_t experiment_id) override;
  absl::StatusOr<uint32_t> AttemptCount(int64_t run_id) override;
  absl::Status UpsertNode(const NodeRecord& node) override;
  absl::StatusOr<std::vector<NodeRecord>> ListNodes() override;
  absl::StatusOr<std::optional<NodeRecord>> GetNode(const std::string& agent_id) override;
  absl::StatusOr<ApplyOutcome> Apply(const Mutation& m) override;
  std::vector<absl::StatusOr<ApplyOutcome>> ApplyGroup(const std::vector<Mutation>& ms) override;
  absl::StatusOr<uint64_t> CommittedSeq(const std::string& agent_id) override;
  absl::Status Sync() override;
  absl::StatusOr<std::map<std::string, RejectionSummary>> Rejections() override;
  absl::StatusOr<std::vector<int64_t>> CleanupsOwedBy(const std::string& agent_id) override;
  absl::StatusOr<std::vector<ResultRecord>> ResultsOfExperiment(int64_t id) override;
  absl::StatusOr<std::vector<ResultRecord>> ResultsOfAttempt(int64_t attempt_id) override;
  absl::StatusOr<std::vector<ArtifactRecord>> ArtifactsOfAttempt(int64_t attempt_id) override;
  absl::StatusOr<std::vector<std::pair<int64_t, double>>> SeriesOf(
      int64_t attempt_id, const std::string& agent_id, const std::string& name) override;
  absl::StatusOr<std::vector<SampleSummary>> SummarizeSamples(
      const std::vector<SampleWindow>& windows, const std::vector<std::string>& names) override;
  absl::StatusOr<std::map<RunState, int64_t>> RunStateCounts() override;
  absl::StatusOr<std::map<RunState, int64_t>> RunStateCounts(int64_t experiment_id) override;
  absl::StatusOr<std::vector<SwitchTime>> SwitchTimes() override;

  int schema_version() const { return schema_version_; }

 private:
  SqliteStore(std::unique_ptr<sqlite::Database> db, const Clock* clock);
  absl::Status Migrate();
  // Nodes matching `where` (its one ? bound to `arg` unless that is empty).
  absl::StatusOr<std::vector<NodeRecord>> QueryNodes(const std::string& where,
                                                     const std::string& arg);
  absl::StatusOr<std::vector<RunRecord>> QueryRuns(const std::string& where,
                                                   const std::vector<SqlArg>& args);
  // Run counts by state; experiment_id 0: all experiments.
  absl::StatusOr<std::map<RunState, int64_t>> CountRunStates(int64_t experiment_id);
  // Attempts matching `where` (its ? bound to `args`), with the evidence
  // keys that start with one of `evidence` (every key when it is empty;
  // none when there is no list), read through `db` (mu_ held for db_).
  absl::StatusOr<std::vector<AttemptRecord>> QueryAttempts(
      sqlite::Database& db, const std::string& where, const std::vector<SqlArg>& args,
      const std::optional<std::vector<std::string>>& evidence);
  // Adds to `attempts` the evidence rows (attempt id, key, value) `query`
  // returns with ?1 bound to the attempts' ids as a JSON array. A pending
  // attempt of many has none (it gets its first on assignment): not looked
  // up (most runs of a big experiment wait).
  absl::Status AddEvidence(sqlite::Database& db, std::vector<AttemptRecord>& attempts,
                           const std::string& query, const std::vector<SqlArg>& more_args);
  absl::Status ApplyAttemptUpdate(const AttemptUpdate& u, int64_t now_ms);
  // Stores the ended attempt's sample count and the means over its
  // SampleWindowOf (sample_summaries, sample_means). mu_ held, in a
  // transaction.
  absl::Status SummarizeEndedAttempt(int64_t attempt_id);
  // Apply's writes, inside the caller's transaction (mu_ held). On
  // kDuplicate or an error the caller rolls back what it wrote.
  absl::StatusOr<ApplyOutcome> ApplyInTransaction(const Mutation& m, int64_t now);
  // Sets one evidence key of an attempt (replacing its value).
  absl::Status PutEvidence(int64_t attempt_id, const std::string& key, const std::string& value);
  absl::Status InsertAttempt(int64_t run_id, uint32_t number, int64_t now_ms);
  // A new experiment's runs, PENDING, without attempts (mu_ held, in a
  // transaction).
  absl::Status InsertRuns(int64_t experiment_id, const std::vector<RunRecord>& runs);
  // A PENDING run of `experiment_id` with its first attempt.
  absl::Status InsertRun(int64_t experiment_id, const spec::RunPoint& point, int64_t now_ms);
  absl::StatusOr<std::vector<ResultRecord>> QueryResults(const std::string& where,
                                                         const std::vector<SqlArg>& args);

  // The columns of run_results, in the order Apply inserts and QueryResults
  // reads them.
  static constexpr char kResultColumns[] =
      "attempt_id, run_id, tool, tool_version, operation, throughput_ops, throughput_bytes, "
      "latency_mean_us, latency_min_us, latency_p50_us, latency_p90_us, latency_p95_us, "
      "latency_p99_us, latency_p999_us, latency_max_us, requests, errors, duration_s";

  std::mutex mu_;  // db_'s
  std::unique_ptr<sqlite::Database> db_;
  // For the page reads: two pages of `results` are read on two cores, and
  // neither waits for ingest's commits.
  sqlite::Readers readers_;
  const Clock* clock_;
  int schema_version_ = 0;
};

}  // namespace iommuvm::store
