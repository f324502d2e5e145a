// Metric ingest through the controller's gRPC Session stream, end to end:
// a real iommuvm-controller subprocess and 8 simulated agents (4
// server/client pairs, bench/sim_agents.h) running an experiment whose
// loads last an hour, every agent sending metric batches of 44 samples for
// its open attempt as fast as its acks allow (64 unacked). The rate is the
// controller's own iommuvm_metric_samples_total over --seconds. Baseline,
// measured in the same run before the controller starts: the same rows
// into a fresh database of the controller's schema with prepared
// statements, one transaction per batch (the ingested row and the samples,
// as Store::Apply) and the controller's synchronous=NORMAL (WAL). Goal
// (the issue): gRPC / raw >= 0.5. A second raw row adds a WAL fsync after
// every batch (each batch durable on its own; the controller syncs once per
// group of commits before it acks them). Also the controller's CPU share
// while it ingests and while idle without agents; with --queued_runs N, an
// experiment of N runs that no agent can take (its selector names a label
// none has) is submitted first and stays QUEUED: the idle controller's CPU
// with it (goal < 1% of a core), then the same ingest measured beside it.
// Run:   build/bench/iommuvm_ingest_grpc_bench [--seconds 10] [--queued_runs 100000]
// Smoke: --seconds 2 --baseline_seconds 1 --idle_seconds 1 (ctest -L bench)
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <filesystem>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "bench/bench_support.h"
#include "bench/controller_process.h"
#include "bench/sim_agents.h"
#include "common/sqlite.h"
#include "common/table.h"
#include "controller/store/sqlite_store.h"

ABSL_FLAG(std::string, controller, IOMMUVM_CONTROLLER_BIN, "the iommuvm-controller binary to run");
ABSL_FLAG(int, agents, 8, "simulated agents (server/client pairs: an even number)");
ABSL_FLAG(double, seconds, 10, "length of the ingest measurement");
ABSL_FLAG(double, baseline_seconds, 5, "length of each raw SQLite baseline");
ABSL_FLAG(double, idle_seconds, 10, "length of each idle-controller measurement");
ABSL_FLAG(int, samples_per_batch, 44, "samples per metric batch");
ABSL_FLAG(int, window, 64, "unacked data messages in flight per agent");
ABSL_FLAG(int, queued_runs, 0,
          "first submit an experiment of about this many runs that stays QUEUED (0: none)");
ABSL_FLAG(std::string, iommu, "strict",
          "host mode of the ingest runs (agents boot strict; another mode makes them switch)");
ABSL_FLAG(std::string, dir, "", "scratch directory (default: a new one under $TMPDIR)");
ABSL_FLAG(bool, keep, false, "keep the scratch directory (databases, controller log)");

namespace iommuvm::bench {
namespace {

struct Rate {
  uint64_t samples = 0;
  uint64_t batches = 0;
  double seconds = 0;
  double per_second() const { return seconds > 0 ? samples / seconds : 0; }
};

// The controller's encoding of a sample's labels (sorted k=v lines).
std::string EncodeLabels(const v1::MetricSample& s) {
  std::map<std::string, std::string> sorted(s.labels().begin(), s.labels().end());
  std::string out;
  for (const auto& [k, v] : sorted) absl::StrAppend(&out, out.empty() ? "" : "\n", k, "=", v);
  return out;
}

// The baseline: the agents' rows straight into SQLite, as fast as it goes.
absl::StatusOr<Rate> RawInserts(const std::string& path, absl::Duration length, int samples,
                                int agents, bool fsync) {
  RealClock clock;
  int64_t attempt_id = 0;
  {
    // The controller's schema, and an attempt the samples can reference.
    auto store = store::SqliteStore::Open(path, &clock);
    if (!store.ok()) return store.status();
    store::NewExperiment e;
    e.name = e.spec_yaml = "baseline";
    store::RunRecord r;
    r.point.workload = "w";
    r.point.vm = "bare-metal";
    e.runs.push_back(r);
    if (auto id = (*store)->CreateExperiment(e); !id.ok()) return id.status();
    attempt_id = (*(*store)->OpenAttempts())[0].id;
  }
  auto db = sqlite::Database::Open(path);
  if (!db.ok()) return db.status();
  if (absl::Status s = (*db)->EnableWal(sqlite::Database::Durability::kSyncExplicitly); !s.ok()) {
    return s;
  }
  auto dedupe = (*db)->Prepare("INSERT OR IGNORE INTO ingested (agent_id, seq) VALUES (?, ?)");
  auto insert = (*db)->Prepare(
      "INSERT INTO metric_samples (attempt_id, agent_id, name, labels, ts_ms, value) "
      "VALUES (?, ?, ?, ?, ?, ?)");
  if (!dedupe.ok() || !insert.ok()) return dedupe.ok() ? insert.status() : dedupe.status();
  // The rows made up front: the baseline times SQLite, not protobuf.
  struct Row {
    std::string name, labels;
    double value;
  };
  std::vector<std::vector<Row>> batches;
  for (uint64_t n = 1; n <= 64; ++n) {
    std::vector<Row> rows;
    v1::MetricBatch batch = SimMetricBatch(n % 2 == 0, "memtier_benchmark", samples, n, 0);
    for (const auto& s : batch.samples()) {
      rows.push_back({s.name(), EncodeLabels(s), s.value()});
    }
    batches.push_back(std::move(rows));
  }
  std::vector<std::string> ids;
  std::vector<uint64_t> seqs(agents, 0);
  for (int i = 0; i < agents; ++i) ids.push_back(absl::StrFormat("ingest-%04d", i));
  Rate rate;
  absl::Time start = absl::Now(), end = start + length, now = start;
  for (uint64_t n = 0; now < end; ++n, now = absl::Now()) {
    int a = static_cast<int>(n % agents);
    const std::vector<Row>& rows = batches[n % batches.size()];
    int64_t ts = absl::ToUnixMillis(now);
    sqlite::Transaction tx(**db);
    if (!tx.status().ok()) return tx.status();
    dedupe->Reset();
    if (absl::Status s = dedupe->BindAll(ids[a], ++seqs[a]).Run(); !s.ok()) return s;
    for (const Row& row : rows) {
      insert->Reset();
      absl::Status s =
          insert->BindAll(attempt_id, ids[a], row.name, row.labels, ts, row.value).Run();
      if (!s.ok()) return s;
    }
    if (absl::Status s = tx.Commit(); !s.ok()) return s;
    if (fsync) {
      if (absl::Status s = (*db)->SyncWal(); !s.ok()) return s;
    }
    ++rate.batches;
    rate.samples += rows.size();
  }
  rate.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return rate;
}

// The controller's CPU share over `length` (% of one core).
absl::StatusOr<double> CpuOver(ControllerProcess& controller, absl::Duration length) {
  auto before = ReadProcStats(controller.pid());
  absl::Time t0 = absl::Now();
  absl::SleepFor(length);
  auto after = ReadProcStats(controller.pid());
  if (!before.ok() || !after.ok()) return controller.Alive();
  return CpuPercent(*before, *after, absl::Now() - t0);
}

// Runs every pair can take at once, each loading for an hour.
std::string IngestSpec(int pairs, const std::string& iommu) {
  return absl::StrFormat(R"(name: ingest-bench
description: simulated agents stream telemetry while their loads run (iommuvm_ingest_grpc_bench)
matrix:
  iommu: [%s]
  workload: [redis-memtier]
repetitions: %d
workloads:
  redis-memtier:
    app: redis
    generator:
      tool: memtier_benchmark
      clients: 50
      duration: 1h
nodes:
  selector:
    pool: ingest
timeouts:
  run: 2h
)",
                         iommu, pairs);
}

// About `runs` runs (value_size values x repetitions) on nodes labelled
// pool=nowhere, which no agent is: they stay PENDING, the experiment QUEUED.
std::string QueuedSpec(int runs, int* total) {
  int reps = std::min(runs, 10000);  // the most repetitions a spec may ask for
  int values = (runs + reps - 1) / reps;
  *total = reps * values;
  std::vector<int> sizes;
  for (int i = 1; i <= values; ++i) sizes.push_back(i);
  return absl::StrFormat(R"(name: queued-bench
description: runs no agent can take, left QUEUED (iommuvm_ingest_grpc_bench)
matrix:
  iommu: [strict]
  workload: [redis-get]
  value_size: [%s]
repetitions: %d
workloads:
  redis-get:
    app: redis
    generator:
      tool: redis-benchmark
      tests: [get]
      requests: 10000
nodes:
  selector:
    pool: nowhere
)",
                         absl::StrJoin(sizes, ", "), reps);
}

// Why the ingest experiment's loads are not all streaming.
std::string ExperimentState(v1::ControllerService::Stub& stub, int64_t id) {
  grpc::ClientContext ctx;
  v1::GetExperimentRequest req;
  req.set_experiment_id(id);
  v1::Experiment e;
  if (grpc::Status s = stub.GetExperiment(&ctx, req, &e); !s.ok()) return s.error_message();
  std::map<std::string, int> states;
  for (const auto& r : e.runs()) {
    states[absl::StrCat(v1::AttemptState_Name(r.attempt_state()), r.error().empty() ? "" : " ",
                        r.error())]++;
  }
  std::string out = absl::StrCat("experiment ", id, " ", v1::ExperimentState_Name(e.state()));
  for (const auto& [state, n] : states) absl::StrAppend(&out, "; ", n, " x ", state);
  if (!e.waiting().empty()) absl::StrAppend(&out, "; waiting: ", e.waiting());
  return out;
}

struct Report {
  Table table{{{"measurement"}, {"value", true}, {"unit"}, {"note"}}};
  bool ok = true;
  void Add(const std::string& what, const std::string& value, const std::string& unit,
           const std::string& note = "") {
    table.AddRow({what, value, unit, note});
  }
  void Fail(const std::string& why) {
    std::cerr << "FAILED: " << why << "\n";
    ok = false;
  }
};

// Agents register, the experiment's loads start, and ingest is measured.
void MeasureIngest(ControllerProcess& controller, v1::ControllerService::Stub& stub,
                   SimNodeFacts& facts, const Rate& raw, const Rate& durable, Report& report) {
  int agents = absl::GetFlag(FLAGS_agents), pairs = agents / 2;
  SimAgentsOptions options;
  options.controller = controller.address();
  options.agents = agents;
  options.id_prefix = "ingest";
  options.agent.labels = {{"pool", "ingest"}};
  options.agent.samples_per_batch = absl::GetFlag(FLAGS_samples_per_batch);
  options.agent.window = absl::GetFlag(FLAGS_window);
  options.agent.flood = true;
  SimAgents fleet(options, &facts);
  fleet.Start();
  SimAgentsStats st =
      fleet.WaitFor([&](const SimAgentsStats& s) { return s.ever_registered + s.failed >= agents; },
                    absl::Seconds(60));
  if (st.ever_registered < agents) {
    report.Fail(
        absl::StrCat(agents - st.ever_registered, " of ", agents, " agents did not register"));
    for (const auto& p : fleet.Problems()) std::cerr << "  " << p << "\n";
    return;
  }
  auto id = SubmitSpec(stub, IngestSpec(pairs, absl::GetFlag(FLAGS_iommu)), "ingest-bench.yaml",
                       absl::Seconds(60));
  if (!id.ok()) return report.Fail(std::string(id.status().message()));
  st = fleet.WaitFor(
      [&](const SimAgentsStats& s) { return s.streaming >= 2 * pairs || s.failed > 0; },
      absl::Seconds(120));
  if (st.streaming < 2 * pairs) {
    report.Fail(absl::StrCat("only ", st.streaming, " of ", 2 * pairs,
                             " agents stream after 120 s: ", ExperimentState(stub, *id)));
    for (const auto& p : fleet.Problems()) std::cerr << "  " << p << "\n";
    std::cerr << controller.LogTail(15);
    return;
  }
  absl::SleepFor(absl::Seconds(1));  // past the start: every window full
  auto samples0 = controller.Metric("iommuvm_metric_samples_total");
  auto proc0 = ReadProcStats(controller.pid());
  double own0 = OwnCpuSeconds();
  SimAgentsStats fleet0 = fleet.Stats();
  absl::Time t0 = absl::Now();
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_seconds)));
  absl::Duration wall = absl::Now() - t0;
  auto samples1 = controller.Metric("iommuvm_metric_samples_total");
  auto proc1 = ReadProcStats(controller.pid());
  double own1 = OwnCpuSeconds();
  SimAgentsStats fleet1 = fleet.Stats();
  if (!samples0.ok() || !samples1.ok() || !proc0.ok() || !proc1.ok()) {
    absl::Status alive = controller.Alive();
    return report.Fail(alive.ok() ? "cannot read the controller's /metrics or /proc"
                                  : std::string(alive.message()));
  }
  double seconds = absl::ToDoubleSeconds(wall);
  double rate = (*samples1 - *samples0) / seconds;
  double acked = (fleet1.totals.samples_acked - fleet0.totals.samples_acked) / seconds;
  double batches = (fleet1.totals.acked - fleet0.totals.acked) / seconds;
  report.Add("gRPC ingest via the controller", absl::StrFormat("%.0f", rate), "samples/s",
             absl::StrFormat("%d agents streaming at the start, %d at the end; %.0f batches/s",
                             st.streaming, fleet1.streaming, batches));
  report.Add("  samples acked, as the agents counted", absl::StrFormat("%.0f", acked), "samples/s");
  auto ratio = [&](const Rate& r) {
    return absl::StrFormat("%.2f", r.per_second() > 0 ? rate / r.per_second() : 0);
  };
  report.Add("ratio gRPC / raw SQLite (baseline)", ratio(raw), "", "goal >= 0.5");
  report.Add("ratio gRPC / raw SQLite + fsync per batch", ratio(durable), "");
  report.Add("controller CPU while ingesting",
             absl::StrFormat("%.1f", CpuPercent(*proc0, *proc1, wall)), "% of a core",
             absl::StrFormat("RSS %.0f MiB, %d threads", proc1->rss_kib / 1024.0, proc1->threads));
  report.Add("simulated agents' CPU (this process)",
             absl::StrFormat("%.1f", 100 * (own1 - own0) / seconds), "% of a core");
  if (rate <= 0) report.Fail("nothing was ingested");

  grpc::ClientContext ctx;
  v1::CancelExperimentRequest cancel;
  cancel.set_experiment_id(*id);
  v1::Experiment cancelled;
  (void)stub.CancelExperiment(&ctx, cancel, &cancelled);
  absl::SleepFor(absl::Milliseconds(500));  // the agents answer the cleanups
  auto rejected = controller.Metric("iommuvm_ingest_rejected_total");
  SimAgentsStats end = fleet.Stats();
  report.Add("messages the controller rejected",
             absl::StrCat(rejected.ok() ? *rejected : -1, " / ", end.totals.rejected), "",
             "its /metrics / acks the agents got; goal 0");
  report.Add("agent sessions the controller lost", absl::StrCat(end.failed), "", "goal 0");
  if (!rejected.ok() || *rejected > 0 || end.totals.rejected > 0 || end.failed > 0) {
    report.Fail(absl::StrCat("rejected messages or lost sessions (", end.failed, " lost)"));
    for (const auto& p : fleet.Problems()) std::cerr << "  " << p << "\n";
  }
  fleet.Stop();
}

int Run() {
  RaiseFileLimit();
  auto dir = MakeScratchDir(absl::GetFlag(FLAGS_dir), "iommuvm-ingest-bench");
  if (!dir.ok()) {
    std::cerr << dir.status().message() << "\n";
    return 1;
  }
  int agents = absl::GetFlag(FLAGS_agents), queued = absl::GetFlag(FLAGS_queued_runs);
  absl::Duration baseline = absl::Seconds(absl::GetFlag(FLAGS_baseline_seconds));
  absl::Duration idle = absl::Seconds(absl::GetFlag(FLAGS_idle_seconds));
  std::cout << absl::StrFormat(
      "ingest through gRPC: %d simulated agents (%d pairs), %d samples/batch, window %d, %g s; "
      "queued runs %d\ncontroller %s\nscratch %s\nload average at the start: %s\n\n",
      agents, agents / 2, absl::GetFlag(FLAGS_samples_per_batch), absl::GetFlag(FLAGS_window),
      absl::GetFlag(FLAGS_seconds), queued, absl::GetFlag(FLAGS_controller), *dir, LoadAverage());
  Report report;
  Rate raw, durable;
  for (auto [fsync, rate] : {std::pair{false, &raw}, std::pair{true, &durable}}) {
    auto r = RawInserts(absl::StrCat(*dir, fsync ? "/raw-fsync.db" : "/raw.db"), baseline,
                        absl::GetFlag(FLAGS_samples_per_batch), agents, fsync);
    if (!r.ok()) {
      std::cerr << "baseline: " << r.status().message() << "\n";
      return 1;
    }
    *rate = *r;
    report.Add(
        fsync ? "raw SQLite + WAL fsync per batch" : "raw SQLite, synchronous=NORMAL (baseline)",
        absl::StrFormat("%.0f", r->per_second()), "samples/s",
        absl::StrFormat("%.0f batches/s, txn per batch", r->batches / r->seconds));
  }
  ControllerOptions options{absl::GetFlag(FLAGS_controller), *dir, {}, 0};
  if (queued > 0)
    options.extra_args.push_back(absl::StrCat("--max_runs_per_experiment=", queued * 2));
  auto controller = ControllerProcess::Start(options);
  if (!controller.ok()) {
    std::cerr << controller.status().message() << "\nscratch directory kept: " << *dir << "\n";
    return 1;
  }
  auto stub = v1::ControllerService::NewStub(
      grpc::CreateChannel((*controller)->address(), grpc::InsecureChannelCredentials()));
  auto facts = SimNodeFacts::Create(*dir + "/simnode");
  if (!facts.ok()) {
    std::cerr << facts.status().message() << "\n";
    return 1;
  }
  auto idle_cpu = CpuOver(**controller, idle);
  if (idle_cpu.ok())
    report.Add("controller CPU idle, no agents, nothing queued", absl::StrFormat("%.2f", *idle_cpu),
               "% of a core");
  if (queued > 0 && idle_cpu.ok()) {
    int total = 0;
    std::string yaml = QueuedSpec(queued, &total);
    absl::Time t0 = absl::Now();
    auto id = SubmitSpec(*stub, yaml, "queued-bench.yaml", absl::Minutes(10));
    if (!id.ok()) {
      report.Fail(std::string(id.status().message()));
    } else {
      report.Add(absl::StrCat("submit of ", total, " runs"),
                 absl::StrFormat("%.2f", absl::ToDoubleSeconds(absl::Now() - t0)), "s");
      absl::SleepFor(absl::Seconds(2));  // its first scheduling passes
      idle_cpu = CpuOver(**controller, idle);
      if (idle_cpu.ok())
        report.Add(absl::StrCat("controller CPU idle, no agents, ", total, " runs queued"),
                   absl::StrFormat("%.2f", *idle_cpu), "% of a core", "goal < 1%");
    }
  }
  if (!idle_cpu.ok()) report.Fail(std::string(idle_cpu.status().message()));
  if (report.ok) MeasureIngest(**controller, *stub, **facts, raw, durable, report);
  if (absl::Status s = (*controller)->Stop(); !s.ok()) report.Fail(std::string(s.message()));
  report.table.Print(std::cout, Format::kTable);
  std::cout << "\nload average at the end: " << LoadAverage() << "\n";
  if (!report.ok || absl::GetFlag(FLAGS_keep)) {
    std::cout << "\nscratch directory kept: " << *dir << " (controller.log, controller.db)\n";
  } else {
    std::filesystem::remove_all(*dir);
  }
  return report.ok ? 0 : 1;
}

}  // namespace
}  // namespace iommuvm::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "iommuvm_ingest_grpc_bench [--seconds 10] [--queued_runs 100000] [--controller PATH]\n"
      "Metric samples/s ingested by a real controller from simulated agents over gRPC, against\n"
      "raw SQLite inserts of the same rows; the controller's CPU ingesting and idle.");
  iommuvm::bench::HelpShowsBenchFlags();
  absl::ParseCommandLine(argc, argv);
  return iommuvm::bench::Run();
}
