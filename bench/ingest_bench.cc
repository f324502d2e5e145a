// Ingest cost of one agent data message (a metric batch of 10 samples),
// made durable before its ack: the controller's Store::Apply (dedupe row +
// samples in one transaction) with one Store::Sync per group of N messages
// (group commit, as the DurableGateway does), against the same with one
// sync per message, and a baseline of the same sample rows inserted with
// bare prepared statements in one synced (synchronous=FULL) transaction
// per message; and the duplicate fast path.
// Run: build/bench/iommuvm_ingest_bench  (compare the rows' times)
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>

#include "common/sqlite.h"
#include "controller/store/sqlite_store.h"

namespace iommuvm {
namespace {

constexpr int kSamplesPerBatch = 10;

struct Fixture {
  Fixture() {
    path = (std::filesystem::temp_directory_path() /
            ("ingest_bench_" + std::to_string(::getpid()) + ".db"))
               .string();
    Remove();
    store = *store::SqliteStore::Open(path, &clock);
    store::NewExperiment e;
    e.name = "bench";
    e.spec_yaml = "name: bench";
    store::RunRecord r;
    r.point.workload = "w";
    r.point.vm = "bare-metal";
    e.runs.push_back(r);
    (void)store->CreateExperiment(e);
    attempt_id = (*store->OpenAttempts())[0].id;
  }
  ~Fixture() {
    store.reset();
    Remove();
  }
  void Remove() {
    for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path + s);
  }
  store::Mutation Batch(uint64_t seq) const {
    store::Mutation m;
    m.dedupe = std::make_pair(std::string("agent"), seq);
    for (int i = 0; i < kSamplesPerBatch; ++i) {
      v1::MetricSample s;
      s.set_name("node_cpu_utilization");
      s.set_timestamp_ms(static_cast<int64_t>(seq) * 1000 + i);
      s.set_value(0.5);
      (*s.mutable_labels())["cpu"] = std::to_string(i);
      m.samples.push_back({attempt_id, "agent", s});
    }
    return m;
  }
  FakeClock clock;
  std::string path;
  std::unique_ptr<store::SqliteStore> store;
  int64_t attempt_id = 0;
};

void BM_StoreApplyBatch(benchmark::State& state) {
  Fixture f;
  uint64_t seq = 0;
  for (auto _ : state) {
    auto out = f.store->Apply(f.Batch(++seq));
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreApplyBatch)->Name("BM_StoreApplyBatch_NotSynced");

// Durable: Apply, then one Sync per `group` messages (per-message time).
void BM_StoreApplyBatchGroupCommit(benchmark::State& state) {
  Fixture f;
  uint64_t seq = 0;
  const int64_t group = state.range(0);
  for (auto _ : state) {
    auto out = f.store->Apply(f.Batch(++seq));
    benchmark::DoNotOptimize(out);
    if (static_cast<int64_t>(seq) % group == 0) (void)f.store->Sync();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreApplyBatchGroupCommit)->Arg(1)->Arg(8)->Arg(32);

void BM_StoreApplyDuplicate(benchmark::State& state) {
  Fixture f;
  store::Mutation m = f.Batch(1);
  (void)f.store->Apply(m);
  for (auto _ : state) {
    auto out = f.store->Apply(m);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreApplyDuplicate);

// Baseline: the same rows, bare INSERTs, one transaction per batch.
void BM_BaselineRawInsertBatch(benchmark::State& state) {
  Fixture f;
  auto db = *sqlite::Database::Open(f.path);
  (void)db->EnableWal();
  auto st = *db->Prepare(
      "INSERT INTO metric_samples (attempt_id, agent_id, name, labels, ts_ms, value) "
      "VALUES (?, ?, ?, ?, ?, ?)");
  int64_t ts = 0;
  for (auto _ : state) {
    sqlite::Transaction tx(*db);
    for (int i = 0; i < kSamplesPerBatch; ++i) {
      st.Reset();
      (void)st.BindAll(f.attempt_id, "agent", "node_cpu_utilization", "cpu=1", ++ts, 0.5).Run();
    }
    (void)tx.Commit();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BaselineRawInsertBatch);

}  // namespace
}  // namespace iommuvm

BENCHMARK_MAIN();
