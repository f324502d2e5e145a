// What `iommuvm results` and the `results` view say of a run: an unsteady
// run (its server's rate fell below the threshold in some interval) and a
// simulated one are marked in both.
#include "controller/service/proto_convert.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/sqlite.h"
#include "controller/store/sqlite_store.h"
#include "tests/support/status_matchers.h"

namespace iommuvm::service {
namespace {

using ::iommuvm::testing::IsOk;
using store::AttemptState;

TEST(ProtoConvertTest, AnUnsteadyRunIsMarkedInResultRowsAndTheResultsView) {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("proto_convert_test_" + std::to_string(::getpid()) + ".db"))
                         .string();
  for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path + s);
  FakeClock clock;
  auto s = *store::SqliteStore::Open(path, &clock);
  store::NewExperiment e;
  e.name = "x";
  e.spec_yaml = "name: x";
  e.spec_sha256 = "abc";
  store::RunRecord run;
  run.point.workload = "w";
  run.point.vm = "bare-metal";
  run.point.repetition = 1;
  e.runs.push_back(run);
  ASSERT_THAT(s->CreateExperiment(e), IsOk());
  store::AttemptRecord a = (*s->OpenAttempts())[0];

  const std::string why = "interval 3 at 31% of the median rate";
  store::Mutation m;
  AttemptState path_states[] = {AttemptState::kPending,   AttemptState::kAssigned,
                                AttemptState::kVerifying, AttemptState::kPreparing,
                                AttemptState::kRunning,   AttemptState::kCollecting,
                                AttemptState::kSucceeded};
  for (size_t i = 1; i < std::size(path_states); ++i) {
    store::AttemptUpdate u;
    u.attempt_id = a.id;
    u.from = path_states[i - 1];
    u.to = path_states[i];
    if (i == 1) u.nodes = std::make_pair(std::string("srv"), std::string("cli"));
    m.attempts.push_back(u);
  }
  // Every key a row is made of, and more it is not.
  m.attempts.back().evidence = {{store::kUnsteadyKey, why},
                                {store::kSimulatedKey, "true"},
                                {"verify.detected", "strict"},
                                {"verify.cmdline", "console=ttyS0 intel_iommu=on"},
                                {"host.verify.detected", "passthrough"},
                                {store::kGuestNodeKey, "srv/vm1"},
                                {store::kLoadStartedKey, "1000"},
                                {store::kLoadEndedKey, "3000"},
                                {"load.link_utilization", "0.95"},
                                {"load.link_speed_mbps", "100000"},
                                {"load.generator_busy", "0.2"},
                                {"server.env.cores", "2-3 (auto: node 0)"},
                                {"server.env.governor", "performance"}};
  // The guest's telemetry, in the load window and out of it: every metric
  // a row is made of.
  for (const char* name :
       {"server_cores_cpu_softirq", "server_cores_cpu_utilization", "node_cpu_utilization",
        "node_interrupts_total_per_second", "node_network_packets_per_second",
        "iommu_maps_per_second", "iommu_unmaps_per_second", "iommu_invalidations_per_second"}) {
    for (auto [ts, value] : {std::pair{2000, 0.8}, {4000, 0.1}}) {
      v1::MetricSample sample;
      sample.set_name(name);
      sample.set_timestamp_ms(ts);
      sample.set_value(value);
      m.samples.push_back({a.id, "srv/vm1", sample});
    }
  }
  store::ResultRecord r;
  r.attempt_id = a.id;
  r.run_id = a.run_id;
  r.tool = "redis-benchmark";
  r.result.set_operation("GET");
  r.result.set_throughput_ops(1000);
  r.result.set_duration_s(2);
  m.results.push_back(r);
  ASSERT_THAT(s->Apply(m), IsOk());

  auto rows = ToResultRows(*s->ListRuns(a.experiment_id), *s->ListAttempts(a.experiment_id),
                           *s->ResultsOfAttempt(a.id), s.get());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].unsteady(), why);
  EXPECT_TRUE(rows[0].simulated());
  EXPECT_EQ(rows[0].detected_mode(), "strict");
  EXPECT_EQ(rows[0].host_mode(), "passthrough");
  EXPECT_EQ(rows[0].metric_samples(), 16u);
  // The guest's, in the window.
  EXPECT_GT(rows[0].softirq_us_per_request(), 0);
  EXPECT_DOUBLE_EQ(rows[0].server_cpu_utilization(), 0.8);
  EXPECT_DOUBLE_EQ(rows[0].server_interrupts_per_second(), 0.8);
  EXPECT_DOUBLE_EQ(rows[0].server_packets_per_second(), 0.8);
  EXPECT_GT(rows[0].iommu_maps_per_request(), 0);
  EXPECT_GT(rows[0].iommu_unmaps_per_request(), 0);
  EXPECT_GT(rows[0].iommu_invalidations_per_request(), 0);
  EXPECT_FALSE(rows[0].bottleneck().empty());
  // A page of rows reads only the evidence rows need
  // (store::kResultEvidenceKeys), and says the same.
  auto page = s->RunsForResults(a.experiment_id, -1, 1000);
  ASSERT_THAT(page, IsOk());
  EXPECT_EQ(page->runs.size(), 1u);
  auto paged = ToResultRows(page->runs, page->attempts, *s->ResultsOfRuns({a.run_id}), s.get());
  ASSERT_EQ(paged.size(), 1u);
  EXPECT_EQ(paged[0].SerializeAsString(), rows[0].SerializeAsString());

  auto db = *sqlite::Database::Open(path, /*create=*/false, /*read_only=*/true);
  auto q = *db->Prepare("SELECT unsteady, simulated FROM results");
  ASSERT_TRUE(*q.Step());
  EXPECT_EQ(q.Text(0), why);
  EXPECT_EQ(q.Int(1), 1);
  EXPECT_FALSE(*q.Step());
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}

}  // namespace
}  // namespace iommuvm::service
