
#include "controller/store/sqlite_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/sqlite.h"
#include "controller/store/migrations.h"
#include "tests/support/status_matchers.h"

namespace iommuvm::store {
namespace {

using ::iommuvm::testing::IsOk;
using ::iommuvm::testing::IsOkAndHolds;
using ::iommuvm::testing::StatusIs;
using ::testing::HasSubstr;

// srv's CPU over a run whose load window is (1000, 3000]: a busy warmup
// (0.9 at 1000), the load (0.5, 0.7: mean 0.6) and an idle tail (0 at 4000).
void AddLoadWindowSamples(int64_t attempt, Mutation* m) {
  for (auto [ts, value] : {std::pair{1000, 0.9}, {2000, 0.5}, {3000, 0.7}, {4000, 0.0}}) {
    v1::MetricSample sample;
    sample.set_name("node_cpu_utilization");
    sample.set_timestamp_ms(ts);
    sample.set_value(value);
    m->samples.push_back({attempt, "srv", sample});
  }
}

// `attempt`'s move from PENDING to `to`.
AttemptUpdate FromPending(int64_t attempt, AttemptState to) {
  AttemptUpdate u;
  u.attempt_id = attempt;
  u.from = AttemptState::kPending;
  u.to = to;
  return u;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("store_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "c.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  int64_t CreateOneRun(SqliteStore* s) {
    NewExperiment e;
    e.name = "x";
    e.spec_yaml = "name: x";
    e.spec_sha256 = "abc";
    RunRecord r;
    r.point.workload = "w";
    r.point.vm = "bare-metal";
    r.point.repetition = 1;
    e.runs.push_back(r);
    auto id = s->CreateExperiment(e);
    EXPECT_THAT(id, IsOk());
    return *id;
  }

  FakeClock clock_;
  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(SqliteStoreTest, FreshDatabaseIsMigratedToLatest) {
  auto s = SqliteStore::Open(path_, &clock_);
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ((*s)->schema_version(), LatestSchemaVersion());
  // Reopening does not migrate again.
  s->reset();
  auto again = SqliteStore::Open(path_, &clock_);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ((*again)->schema_version(), LatestSchemaVersion());
}

// `iommuvm query "SELECT 1; DELETE FROM runs"` must not run the first and
// silently drop the second: one statement, or an error.
TEST_F(SqliteStoreTest, PrepareRefusesMoreThanOneStatement) {
  auto db = *sqlite::Database::Open(path_);
  EXPECT_THAT(
      db->Prepare("SELECT 1; DELETE FROM runs"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than one SQL statement")));
  EXPECT_THAT(db->Prepare("SELECT 1;  -- a comment\n"), IsOk());
  EXPECT_THAT(db->Prepare("SELECT 1"), IsOk());
}

TEST_F(SqliteStoreTest, ConnectionsSyncEachCommitByDefault) {
  auto s = SqliteStore::Open(path_, &clock_);
  ASSERT_THAT(s, IsOk());
  auto db = *sqlite::Database::Open(path_);
  ASSERT_THAT(db->EnableWal(), IsOk());
  EXPECT_EQ(*db->QueryInt("PRAGMA synchronous"), 2) << "FULL: an ack follows a synced commit";
}

TEST_F(SqliteStoreTest, VersionOneDatabaseIsUpgradedKeepingItsRows) {
  {
    auto db = *sqlite::Database::Open(path_);
    ASSERT_THAT(db->Exec(Migrations()[0]), IsOk());
    ASSERT_THAT(db->Exec("PRAGMA user_version = 1"), IsOk());
    ASSERT_THAT(db->Exec("INSERT INTO experiments (name, spec_yaml, spec_sha256, state, "
                         "created_ms) VALUES ('old', 'name: old', 'x', 'SUCCEEDED', 1);"
                         "INSERT INTO runs (experiment_id, idx, iommu, workload, vm, repetition, "
                         "state) VALUES (1, 0, 4, 'w', 'bare-metal', 1, 'SUCCEEDED')"),
                IsOk());
  }
  auto s = SqliteStore::Open(path_, &clock_);
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ((*s)->schema_version(), LatestSchemaVersion());
  auto runs = *(*s)->ListRuns(1);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].state, RunState::kSucceeded);
  EXPECT_TRUE(runs[0].point.params.empty());
}

// Attempts measured before result_facts (schema 11) keep what their rows
// show: the upgrade fills the table from the evidence copy they had.
TEST_F(SqliteStoreTest, ResultEvidenceOfASchema11DatabaseBecomesItsResultFacts) {
  {
    auto db = *sqlite::Database::Open(path_);
    for (int v = 0; v < 11; ++v) ASSERT_THAT(db->Exec(Migrations()[v]), IsOk()) << v;
    ASSERT_THAT(db->Exec("PRAGMA user_version = 11"), IsOk());
    ASSERT_THAT(db->Exec("INSERT INTO experiments (name, spec_yaml, spec_sha256, state, "
                         "created_ms) VALUES ('old', 'name: old', 'x', 'SUCCEEDED', 1);"
                         "INSERT INTO runs (experiment_id, idx, iommu, workload, vm, repetition, "
                         "state) VALUES (1, 0, 4, 'w', 'bare-metal', 1, 'SUCCEEDED');"
                         "INSERT INTO attempts (run_id, number, state, created_ms, updated_ms) "
                         "VALUES (1, 1, 'SUCCEEDED', 1, 1);"
                         "INSERT INTO attempt_evidence VALUES (1, 'verify.detected', 'strict'),"
                         "(1, 'load.started_ms', '1000'), (1, 'verify.cmdline', 'x')"),
                IsOk());
  }
  auto s = *SqliteStore::Open(path_, &clock_);
  auto page = *s->RunsForResults(1, -1, 1000);
  ASSERT_EQ(page.attempts.size(), 1u);
  EXPECT_EQ(page.attempts[0].evidence,
            (std::map<std::string, std::string>{{"load.started_ms", "1000"},
                                                {"verify.detected", "strict"}}));
}

// A client may ask for every page of results at once: where each page
// after the first begins, and none after the last run.
TEST_F(SqliteStoreTest, PageStartsAreTheLastIndexBeforeEachLaterPage) {
  auto s = *SqliteStore::Open(path_, &clock_);
  auto experiment = [&](int runs, int gap_at = 1 << 30) {
    NewExperiment e;
    e.name = "pages";
    for (int i = 0; i < runs; ++i) {
      RunRecord r;
      r.point.index = static_cast<uint32_t>(i < gap_at ? i : i + 5);
      r.point.workload = "w";
      r.point.vm = "bare-metal";
      r.point.repetition = 1;
      e.runs.push_back(r);
    }
    return *s->CreateExperiment(e);
  };
  int64_t uneven = experiment(25), even = experiment(20), one_page = experiment(3);
  EXPECT_EQ(*s->PageStarts(uneven, 10), (std::vector<int64_t>{9, 19}));
  EXPECT_EQ(*s->PageStarts(even, 10), (std::vector<int64_t>{9}));
  EXPECT_TRUE(s->PageStarts(one_page, 10)->empty());
  // Indexes with a gap (not a plan's 0..n-1): read from the runs.
  int64_t gapped = experiment(25, 15);
  EXPECT_EQ(*s->PageStarts(gapped, 10), (std::vector<int64_t>{9, 24}));
  // Each start is the after_index that gives that page.
  auto starts = s->PageStarts(uneven, 10);
  ASSERT_THAT(starts, IsOk());
  for (int64_t after : *starts) {
    EXPECT_EQ((*s->ListRuns(uneven, after, 10)).front().point.index, after + 1);
  }
}

// A page of results reads its runs with each one's latest attempt and
// that attempt's result evidence in one statement.
TEST_F(SqliteStoreTest, RunsForResultsGivesAPageOfRunsWithTheirLatestAttempts) {
  auto s = *SqliteStore::Open(path_, &clock_);
  NewExperiment e;
  e.name = "r";
  for (uint32_t i = 0; i < 3; ++i) {
    RunRecord r;
    r.point.index = i;
    r.point.workload = "w";
    r.point.vm = "bare-metal";
    r.point.repetition = 1;
    r.point.params = {{"clients", absl::StrCat(i)}};
    e.runs.push_back(r);
  }
  int64_t id = *s->CreateExperiment(e);
  std::vector<RunRecord> runs = *s->ListRuns(id);
  // Run 1 failed once and is tried again; its first attempt carries evidence.
  AttemptRecord first = (*s->AttemptsOfRuns({runs[1].id}, {}))[0];
  Mutation m;
  m.attempts.push_back(FromPending(first.id, AttemptState::kFailed));
  m.attempts.back().evidence = {{"verify.detected", "strict"}};
  m.new_attempts.push_back(runs[1].id);
  ASSERT_THAT(s->Apply(m), IsOk());

  auto page = s->RunsForResults(id, 0, 2);  // after run 0, two runs
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->runs.size(), 2u);
  EXPECT_EQ(page->runs[0].point.index, 1u);
  EXPECT_EQ(page->runs[1].point.index, 2u);
  EXPECT_EQ(page->runs[0].point.params, runs[1].point.params);
  ASSERT_EQ(page->attempts.size(), 2u);
  EXPECT_EQ(page->attempts[0].run_id, runs[1].id);
  EXPECT_EQ(page->attempts[0].number, 2u);  // the retry, not the failed one
  EXPECT_TRUE(page->attempts[0].evidence.empty());
  EXPECT_EQ(page->attempts[1].run_id, runs[2].id);
  // The same runs as ListRuns reads.
  auto listed = *s->ListRuns(id, 0, 2);
  for (size_t i = 0; i < listed.size(); ++i) {
    EXPECT_EQ(page->runs[i].id, listed[i].id);
    EXPECT_EQ(page->runs[i].state, listed[i].state);
  }
}

// A submit writes its runs many to a statement: every run of uneven
// chunks (two full, one short) is stored with its own point and its first
// attempt, in order.
TEST_F(SqliteStoreTest, EveryRunOfABigSubmitIsStoredWithItsPointAndFirstAttempt) {
  auto s = *SqliteStore::Open(path_, &clock_);
  NewExperiment e;
  e.name = "big";
  constexpr uint32_t kRuns = 600;
  for (uint32_t i = 0; i < kRuns; ++i) {
    RunRecord r;
    r.point.index = i;
    r.point.iommu = i % 2 == 0 ? v1::IOMMU_MODE_STRICT : v1::IOMMU_MODE_LAZY;
    r.point.workload = absl::StrCat("w", i % 7);
    r.point.vm = i % 3 == 0 ? "bare-metal" : "vm1";
    r.point.repetition = i / 10 + 1;
    r.point.params = {{"clients", absl::StrCat(i % 10)}, {"run", absl::StrCat(i)}};
    e.runs.push_back(r);
  }
  int64_t id = *s->CreateExperiment(e);
  std::vector<RunRecord> runs = *s->ListRuns(id);
  ASSERT_EQ(runs.size(), kRuns);
  for (uint32_t i = 0; i < kRuns; ++i) {
    const spec::RunPoint& want = e.runs[i].point;
    EXPECT_EQ(runs[i].point.index, want.index);
    EXPECT_EQ(runs[i].point.iommu, want.iommu) << i;
    EXPECT_EQ(runs[i].point.workload, want.workload) << i;
    EXPECT_EQ(runs[i].point.vm, want.vm) << i;
    EXPECT_EQ(runs[i].point.repetition, want.repetition) << i;
    EXPECT_EQ(runs[i].point.params, want.params) << i;
    EXPECT_EQ(runs[i].state, RunState::kPending);
  }
  auto attempts = *s->ListAttempts(id);
  ASSERT_EQ(attempts.size(), kRuns);
  for (uint32_t i = 0; i < kRuns; ++i) {
    EXPECT_EQ(attempts[i].run_id, runs[i].id);
    EXPECT_EQ(attempts[i].number, 1u);
    EXPECT_EQ(attempts[i].state, AttemptState::kPending);
  }
}

// A run added later (adaptive repetitions) is stored as a submit's are:
// with its point and a first attempt.
TEST_F(SqliteStoreTest, ARunAddedByAMutationIsStoredWithItsPointAndFirstAttempt) {
  auto s = *SqliteStore::Open(path_, &clock_);
  int64_t id = CreateOneRun(s.get());
  Mutation m;
  RunRecord added;
  added.experiment_id = id;
  added.point.index = 1;
  added.point.iommu = v1::IOMMU_MODE_LAZY;
  added.point.workload = "w";
  added.point.vm = "vm1";
  added.point.repetition = 2;
  added.point.params = {{"clients", "8"}};
  m.new_runs.push_back(added);
  ASSERT_THAT(s->Apply(m), IsOk());
  std::vector<RunRecord> runs = *s->ListRuns(id);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[1].point.index, 1u);
  EXPECT_EQ(runs[1].point.iommu, v1::IOMMU_MODE_LAZY);
  EXPECT_EQ(runs[1].point.vm, "vm1");
  EXPECT_EQ(runs[1].point.repetition, 2u);
  EXPECT_EQ(runs[1].point.params, added.point.params);
  EXPECT_EQ(runs[1].state, RunState::kPending);
  auto attempts = *s->AttemptsOfRuns({runs[1].id}, {});
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].number, 1u);
  EXPECT_EQ(attempts[0].state, AttemptState::kPending);
}

// What a plan is made of: the experiment's PENDING attempts, by run index,
// with their runs' points; not an attempt that began, nor another
// experiment's.
TEST_F(SqliteStoreTest, PendingAttemptsComeWithTheirRunsPointsInIndexOrder) {
  auto s = *SqliteStore::Open(path_, &clock_);
  auto experiment = [&](int runs) {
    NewExperiment e;
    e.name = "plan";
    for (int i = runs - 1; i >= 0; --i) {  // stored out of index order
      RunRecord r;
      r.point.index = static_cast<uint32_t>(i);
      r.point.workload = "w";
      r.point.vm = "bare-metal";
      r.point.repetition = 1;
      r.point.params = {{"clients", absl::StrCat(i)}};
      e.runs.push_back(r);
    }
    return *s->CreateExperiment(e);
  };
  int64_t id = experiment(3);
  experiment(2);  // another experiment's pending attempts
  std::vector<RunRecord> runs = *s->ListRuns(id);
  AttemptRecord began = (*s->AttemptsOfRuns({runs[1].id}, {}))[0];
  Mutation m;
  m.attempts.push_back(FromPending(began.id, AttemptState::kFailed));
  ASSERT_THAT(s->Apply(m), IsOk());

  auto pending = s->PendingAttempts(id);
  ASSERT_THAT(pending, IsOk());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].point.index, 0u);
  EXPECT_EQ((*pending)[0].point.params, runs[0].point.params);
  EXPECT_EQ((*pending)[0].attempt_id, (*s->AttemptsOfRuns({runs[0].id}, {}))[0].id);
  EXPECT_EQ((*pending)[1].point.index, 2u);
  EXPECT_EQ((*pending)[1].point.workload, "w");
  EXPECT_EQ((*pending)[1].point.params, runs[2].point.params);
}

TEST_F(SqliteStoreTest, RunParamsRoundTrip) {
  auto s = *SqliteStore::Open(path_, &clock_);
  NewExperiment e;
  e.name = "p";
  RunRecord r;
  r.point.workload = "w";
  r.point.vm = "bare-metal";
  r.point.params = {{"clients", "16"}, {"value_size", "4KiB"}};
  e.runs.push_back(r);
  int64_t id = *s->CreateExperiment(e);
  EXPECT_EQ((*s->ListRuns(id))[0].point.params, r.point.params);
}

TEST_F(SqliteStoreTest, NewerSchemaIsRefusedAndFileUntouched) {
  {
    auto db = sqlite::Database::Open(path_);
    ASSERT_THAT(db, IsOk());
    ASSERT_THAT((*db)->Exec("PRAGMA user_version = 99"), IsOk());
  }
  std::ifstream before_in(path_, std::ios::binary);
  std::stringstream before;
  before << before_in.rdbuf();
  auto s = SqliteStore::Open(path_, &clock_);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("schema version 99")));
  std::ifstream after_in(path_, std::ios::binary);
  std::stringstream after;
  after << after_in.rdbuf();
  EXPECT_EQ(before.str(), after.str());
  EXPECT_FALSE(std::filesystem::exists(path_ + "-wal"));
}

TEST_F(SqliteStoreTest, UnwritablePathIsRefused) {
  auto s = SqliteStore::Open((dir_ / "missing-dir" / "c.db").string(), &clock_);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("cannot open")));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "missing-dir"));
}

TEST_F(SqliteStoreTest, DedupeIgnoresRepeatedSequenceNumbers) {
  auto s = *SqliteStore::Open(path_, &clock_);
  CreateOneRun(s.get());
  auto open = *s->OpenAttempts();
  ASSERT_EQ(open.size(), 1u);
  Mutation m;
  m.dedupe = std::make_pair(std::string("agent-a"), uint64_t{7});
  v1::MetricSample sample;
  sample.set_name("node_cpu_utilization");
  sample.set_value(0.5);
  m.samples.push_back({open[0].id, "agent-a", sample});
  m.samples.push_back({open[0].id, "agent-a", sample});
  EXPECT_EQ(*s->Apply(m), ApplyOutcome::kApplied);
  EXPECT_EQ(*s->Apply(m), ApplyOutcome::kDuplicate);
  EXPECT_EQ(*s->CountSamples(open[0].id), 2u);
  EXPECT_EQ(*s->CommittedSeq("agent-a"), 7u);
  EXPECT_EQ(*s->CommittedSeq("agent-b"), 0u);
  // The same seq from another agent is a different message.
  m.dedupe = std::make_pair(std::string("agent-b"), uint64_t{7});
  EXPECT_EQ(*s->Apply(m), ApplyOutcome::kApplied);
  EXPECT_EQ(*s->CountSamples(open[0].id), 4u);
}

// Telemetry means cover the measured window only: a busy warmup and an
// idle tail do not move them.
TEST_F(SqliteStoreTest, MeansOverTheLoadWindowOnly) {
  auto s = *SqliteStore::Open(path_, &clock_);
  CreateOneRun(s.get());
  int64_t attempt = (*s->OpenAttempts())[0].id;
  Mutation m;
  AddLoadWindowSamples(attempt, &m);
  // Neither another agent's samples nor a labelled series count in the
  // means; every sample counts in the attempt's total.
  v1::MetricSample other;
  other.set_name("node_cpu_utilization");
  other.set_timestamp_ms(2000);
  other.set_value(100);
  m.samples.push_back({attempt, "guest \"1\"", other});
  other.mutable_labels()->insert({"cpu", "3"});
  m.samples.push_back({attempt, "srv", other});
  ASSERT_THAT(s->Apply(m), IsOk());
  // Several windows in one call, the same attempt twice, one with no samples.
  auto summaries = s->SummarizeSamples({{attempt, "srv", 1000, 3000},
                                        {attempt, "srv", 0, 0},
                                        {attempt, "guest \"1\"", 0, 0},
                                        {attempt + 1000, "srv", 0, 0}},
                                       {});
  ASSERT_THAT(summaries, IsOk());
  ASSERT_EQ(summaries->size(), 4u);
  EXPECT_DOUBLE_EQ((*summaries)[0].means.at("node_cpu_utilization"), 0.6);
  EXPECT_DOUBLE_EQ((*summaries)[1].means.at("node_cpu_utilization"), 0.525);
  EXPECT_DOUBLE_EQ((*summaries)[2].means.at("node_cpu_utilization"), 100);
  for (int i : {0, 1, 2}) EXPECT_EQ((*summaries)[i].count, 6u) << i;
  EXPECT_EQ((*summaries)[3].count, 0u);
  EXPECT_TRUE((*summaries)[3].means.empty());
  EXPECT_THAT(s->SummarizeSamples({}, {}), IsOkAndHolds(::testing::IsEmpty()));
  // Only the metrics asked for.
  v1::MetricSample memory;
  memory.set_name("node_memory_used_bytes");
  memory.set_timestamp_ms(2000);
  memory.set_value(1e9);
  Mutation more;
  more.samples.push_back({attempt, "srv", memory});
  ASSERT_THAT(s->Apply(more), IsOk());
  auto all = s->SummarizeSamples({{attempt, "srv", 0, 0}}, {});
  auto cpu = s->SummarizeSamples({{attempt, "srv", 0, 0}}, {"node_cpu_utilization"});
  ASSERT_THAT(all, IsOk());
  ASSERT_THAT(cpu, IsOk());
  EXPECT_EQ((*all)[0].means.size(), 2u);
  EXPECT_EQ((*cpu)[0].means.size(), 1u);
  EXPECT_EQ((*cpu)[0].count, 7u);
}

// A page of result rows reads its evidence from result_facts: the
// triggers that keep it copy exactly kResultEvidenceKeys, as written,
// rewritten and deleted.
TEST_F(SqliteStoreTest, ResultEvidenceIsACopyOfTheKeysResultRowsRead) {
  auto s = *SqliteStore::Open(path_, &clock_);
  CreateOneRun(s.get());
  int64_t attempt = (*s->OpenAttempts())[0].id;
  s.reset();
  auto db = *sqlite::Database::Open(path_);
  auto add = *db->Prepare("INSERT OR REPLACE INTO attempt_evidence VALUES (?, ?, ?)");
  for (const char* key : kResultEvidenceKeys) {
    add.Reset();
    add.BindAll(attempt, std::string(key), std::string("first"));
    ASSERT_THAT(add.Run(), IsOk());
  }
  add.Reset();
  add.BindAll(attempt, std::string("verify.cmdline"), std::string("not a result's"));
  ASSERT_THAT(add.Run(), IsOk());
  add.Reset();
  add.BindAll(attempt, std::string("verify.detected"), std::string("strict"));  // rewritten
  ASSERT_THAT(add.Run(), IsOk());
  ASSERT_THAT(db->Exec("UPDATE attempt_evidence SET value = 'lazy' WHERE key = 'verify.data_mode'"),
              IsOk());
  ASSERT_THAT(db->Exec("DELETE FROM attempt_evidence WHERE key = 'vm.guest_id'"), IsOk());
  // A column per key, named as the key: a key the table lacks is missing
  // here, one it has beyond the list is extra.
  auto copy = *db->Prepare("SELECT * FROM result_facts");
  std::map<std::string, std::string> copied;
  ASSERT_TRUE(*copy.Step());
  EXPECT_EQ(copy.Int(0), attempt);
  for (int col = 1; col < copy.ColumnCount(); ++col) {
    if (!copy.IsNull(col)) copied[copy.ColumnName(col)] = copy.Text(col);
  }
  EXPECT_EQ(copy.ColumnCount(), static_cast<int>(kResultEvidenceKeys.size()) + 1);
  EXPECT_FALSE(*copy.Step());
  std::map<std::string, std::string> want;
  for (const char* key : kResultEvidenceKeys) want[key] = "first";
  want["verify.detected"] = "strict";
  want["verify.data_mode"] = "lazy";
  want.erase("vm.guest_id");
  EXPECT_EQ(copied, want);
}

// An attempt that ends has its samples summarized in the same
// transaction, over its load window and its server's samples; a window
// that is that one is answered from the summary (even with the samples
// gone), any other from the samples.
TEST_F(SqliteStoreTest, AnEndedAttemptsSamplesAreSummarizedWhenItEnds) {
  auto s = *SqliteStore::Open(path_, &clock_);
  CreateOneRun(s.get());
  int64_t attempt = (*s->OpenAttempts())[0].id;
  Mutation m;
  AttemptUpdate u;
  u.attempt_id = attempt;
  u.from = AttemptState::kPending;
  u.to = AttemptState::kFailed;
  u.nodes = std::make_pair(std::string("srv"), std::string("cli"));
  u.evidence = {{kLoadStartedKey, "1000"}, {kLoadEndedKey, "3000"}};
  m.attempts.push_back(u);
  AddLoadWindowSamples(attempt, &m);
  v1::MetricSample client;
  client.set_name("node_cpu_utilization");
  client.set_timestamp_ms(2000);
  client.set_value(1);
  m.samples.push_back({attempt, "cli", client});
  ASSERT_THAT(s->Apply(m), IsOk());
  auto before = s->SummarizeSamples({{attempt, "srv", 1000, 3000}}, {});
  ASSERT_THAT(before, IsOk());
  EXPECT_EQ((*before)[0].count, 5u);
  EXPECT_DOUBLE_EQ((*before)[0].means.at("node_cpu_utilization"), 0.6);
  {
    auto db = *sqlite::Database::Open(path_);
    auto summary = *db->Prepare("SELECT agent_id, from_ms, to_ms, samples FROM sample_summaries");
    ASSERT_TRUE(*summary.Step());
    EXPECT_EQ(summary.Text(0), "srv");
    EXPECT_EQ(summary.Int(1), 1000);
    EXPECT_EQ(summary.Int(2), 3000);
    EXPECT_EQ(summary.Int(3), 5);
    summary.Reset();
    ASSERT_THAT(db->Exec("DELETE FROM metric_samples"), IsOk());
  }
  auto after = s->SummarizeSamples({{attempt, "srv", 1000, 3000}, {attempt, "cli", 0, 0}},
                                   {"node_cpu_utilization"});
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ((*after)[0].count, 5u);
  EXPECT_DOUBLE_EQ((*after)[0].means.at("node_cpu_utilization"), 0.6);
  EXPECT_EQ((*after)[1].count, 0u);  // not the summarized window: from the samples
  EXPECT_TRUE((*after)[1].means.empty());
}

TEST_F(SqliteStoreTest, StaleTransitionRollsBackTheWholeMutation) {
  auto s = *SqliteStore::Open(path_, &clock_);
  CreateOneRun(s.get());
  AttemptRecord a = (*s->OpenAttempts())[0];
  Mutation m;
  m.dedupe = std::make_pair(std::string("agent-a"), uint64_t{1});
  AttemptUpdate u;
  u.attempt_id = a.id;
  u.from = AttemptState::kAssigned;  // it is PENDING
  u.to = AttemptState::kVerifying;
  m.attempts.push_back(u);
  m.events.push_back({a.experiment_id, a.run_id, a.id, "", "x", "y"});
  EXPECT_THAT(s->Apply(m), StatusIs(absl::StatusCode::kAborted, HasSubstr("no longer")));
  EXPECT_EQ(*s->CommittedSeq("agent-a"), 0u);  // dedupe row rolled back too
  EXPECT_EQ((*s->OpenAttempts())[0].state, AttemptState::kPending);
}

// A group commit: each mutation on its own, as Apply would take it, in one
// transaction; but an agent's messages never commit past one of its own
// that failed (it drops what is at or below its committed sequence).
TEST_F(SqliteStoreTest, AGroupAppliesEachMutationOnItsOwnInOneTransaction) {
  auto s = *SqliteStore::Open(path_, &clock_);
  CreateOneRun(s.get());
  AttemptRecord a = (*s->OpenAttempts())[0];
  v1::MetricSample sample;
  sample.set_name("node_cpu_utilization");
  auto batch = [&](const std::string& agent, uint64_t seq) {
    Mutation m;
    m.dedupe = std::make_pair(agent, seq);
    m.samples.push_back({a.id, agent, sample});
    return m;
  };
  ASSERT_THAT(s->Apply(batch("agent-a", 1)), IsOk());
  Mutation stale = batch("agent-b", 5);  // fails: the attempt is PENDING
  AttemptUpdate u;
  u.attempt_id = a.id;
  u.from = AttemptState::kAssigned;
  u.to = AttemptState::kVerifying;
  stale.attempts.push_back(u);
  auto outcomes =
      s->ApplyGroup({batch("agent-a", 2), batch("agent-a", 1), batch("agent-b", 4), stale,
                     batch("agent-b", 6), batch("agent-a", 2), batch("agent-c", 1)});
  ASSERT_EQ(outcomes.size(), 7u);
  EXPECT_THAT(outcomes[0], IsOkAndHolds(ApplyOutcome::kApplied));
  EXPECT_THAT(outcomes[1], IsOkAndHolds(ApplyOutcome::kDuplicate));  // applied before
  EXPECT_THAT(outcomes[2], IsOkAndHolds(ApplyOutcome::kApplied));
  EXPECT_THAT(outcomes[3], StatusIs(absl::StatusCode::kAborted, HasSubstr("no longer")));
  EXPECT_THAT(outcomes[4], StatusIs(absl::StatusCode::kAborted,
                                    HasSubstr("message 6 of agent-b follows one of its own")));
  EXPECT_THAT(outcomes[5], IsOkAndHolds(ApplyOutcome::kDuplicate));  // earlier in the group
  EXPECT_THAT(outcomes[6], IsOkAndHolds(ApplyOutcome::kApplied));
  // Committed: 1 + the group's three; nothing of the failed one (its
  // sample, its sequence number) nor of the one after it.
  EXPECT_EQ(*s->CountSamples(a.id), 4u);
  EXPECT_EQ(*s->CommittedSeq("agent-a"), 2u);
  EXPECT_EQ(*s->CommittedSeq("agent-b"), 4u);
  EXPECT_EQ(*s->CommittedSeq("agent-c"), 1u);
  EXPECT_EQ((*s->OpenAttempts())[0].state, AttemptState::kPending);
  EXPECT_TRUE(s->ApplyGroup({}).empty());
}

TEST_F(SqliteStoreTest, IllegalTransitionIsRejected) {
  auto s = *SqliteStore::Open(path_, &clock_);
  CreateOneRun(s.get());
  AttemptRecord a = (*s->OpenAttempts())[0];
  Mutation m;
  m.attempts.push_back(FromPending(a.id, AttemptState::kRunning));
  EXPECT_THAT(s->Apply(m),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("PENDING -> RUNNING")));
}

TEST_F(SqliteStoreTest, GetAttemptById) {
  auto s = *SqliteStore::Open(path_, &clock_);
  CreateOneRun(s.get());
  AttemptRecord a = (*s->OpenAttempts())[0];
  auto got = s->GetAttempt(a.id);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->run_id, a.run_id);
  EXPECT_EQ(got->state, AttemptState::kPending);
  EXPECT_THAT(s->GetAttempt(a.id + 100),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no attempt")));
}

TEST_F(SqliteStoreTest, RetryCreatesNumberedAttempt) {
  auto s = *SqliteStore::Open(path_, &clock_);
  CreateOneRun(s.get());
  AttemptRecord a = (*s->OpenAttempts())[0];
  Mutation m;
  m.attempts.push_back(FromPending(a.id, AttemptState::kLost));
  m.attempts.back().error = "node gone";
  m.new_attempts.push_back(a.run_id);
  ASSERT_THAT(s->Apply(m), IsOk());
  auto open = *s->OpenAttempts();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].number, 2u);
  EXPECT_EQ(*s->AttemptCount(a.run_id), 2u);
  auto all = *s->ListAttempts(a.experiment_id);
  EXPECT_EQ(all[0].error, "node gone");
}

}  // namespace
}  // namespace iommuvm::store
