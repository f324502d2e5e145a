// Node control end to end on simulated nodes: the real controller, a real
// client agent and a server agent started with --simulate_boot, whose /proc
// and /sys live in a sysroot. A 3-mode experiment makes the server switch
// mode three times; every switch is a real restart of the agent process
// with a new boot id, and the probe's evidence lands in the database.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "iommuvm/v1/common.pb.h"
#include "tests/support/process_harness.h"

namespace iommuvm::testing {
namespace {

constexpr char kSpec[] = R"(name: three-modes
matrix:
  iommu: [passthrough, lazy, off]
  workload: [get]
repetitions: 1
workloads:
  get:
    app: redis
    generator: {tests: [get], clients: 10, requests: 5000}
switch: kexec
timeouts: {boot: 1m, prepare: 30s, run: 1m, collect: 30s}
)";

int Occurrences(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A simulated server node, booted strict, its /proc and /sys in sim-root.
Daemon StartSimServer(Harness& h) {
  return h.StartAgent("sim-server", "server", {},
                      {"--simulate_boot", "--sysroot", h.dir() / "sim-root", "--sim_cmdline",
                       "console=ttyS0 intel_iommu=on iommu.strict=1"});
}

TEST(NodeControlTest, ThreeModesThreeSimulatedRebootsWithEvidence) {
  Harness h;
  Daemon controller = h.StartController();
  ASSERT_TRUE(controller.WaitForLog("listening on", absl::Seconds(10))) << controller.Log();
  Daemon server = StartSimServer(h);
  Daemon client = h.StartAgent("client-1", "client");
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM nodes", 2, absl::Seconds(10)))
      << server.Log() << client.Log();
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM nodes WHERE agent_id = 'sim-server' AND "
                    "iommu_mode = 'strict'"),
            1);

  std::string spec = h.WriteFile("three-modes.yaml", kSpec);
  CommandResult r = h.Cli({"submit", spec, "--wait", "--format", "csv"}, absl::Minutes(3));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << server.Log();
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 3) << server.Log();

  // Three switches, each a simulated kexec that restarted the agent with a
  // new boot id; the controller saw the boot id change every time.
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'switch.method' "
                    "AND value = 'sim-kexec'"),
            3);
  EXPECT_EQ(h.Count("SELECT COUNT(DISTINCT value) FROM attempt_evidence "
                    "WHERE key = 'switch.boot_id'"),
            3);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM attempt_evidence b JOIN attempt_evidence a "
                    "ON a.attempt_id = b.attempt_id WHERE b.key = 'switch.boot_id_before' "
                    "AND a.key = 'switch.boot_id' AND a.value != b.value"),
            3);
  EXPECT_EQ(Occurrences(server.Log(), "restarting as"), 3) << server.Log();
  EXPECT_EQ(Occurrences(controller.Log(), "agent sim-server registered"), 4);

  // Each run was verified in its own mode by the probe.
  const std::pair<const char*, v1::IommuMode> modes[] = {
      {"passthrough", v1::IOMMU_MODE_PASSTHROUGH},
      {"lazy", v1::IOMMU_MODE_LAZY},
      {"off", v1::IOMMU_MODE_OFF}};
  for (const auto& [name, mode] : modes) {
    EXPECT_EQ(h.Count(absl::StrCat(
                  "SELECT COUNT(*) FROM attempt_evidence e JOIN attempts a ON a.id = "
                  "e.attempt_id JOIN runs r ON r.id = a.run_id WHERE e.key = 'verify.detected' "
                  "AND e.value = '",
                  name, "' AND r.iommu = ", static_cast<int>(mode))),
              1)
        << name;
  }
  // The server finished in off: its sysroot shows it like a real kernel.
  std::ifstream cmdline(h.dir() / "sim-root/proc/cmdline");
  std::string line;
  std::getline(cmdline, line);
  EXPECT_EQ(line, "console=ttyS0 intel_iommu=off");
  CommandResult status = h.Cli({"status", "1"});
  EXPECT_NE(status.out.find("switched=sim-kexec"), std::string::npos) << status.out;
  // The switches as measured, per node and method: what the planner plans with.
  CommandResult agents = h.Cli({"agents", "--format", "csv"});
  EXPECT_NE(agents.out.find("s x3"), std::string::npos) << agents.out;
  EXPECT_NE(agents.out.find("sim-kexec "), std::string::npos) << agents.out;

  // Each mode against off, the least protected (one repetition: a change,
  // no interval).
  // The server was simulated: its modes were generated, so compare refuses
  // unless asked, and then marks every row; results and the view say so.
  CommandResult refused = h.Cli({"compare", "1"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("ran on simulated nodes"), std::string::npos) << refused.err;
  CommandResult results = h.Cli({"results", "1", "--format", "csv"});
  EXPECT_NE(results.out.find(",SIMULATED"), std::string::npos) << results.out;
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM results WHERE simulated"), 3);
  CommandResult cmp = h.Cli({"compare", "1", "--format", "csv", "--allow-simulated"});
  ASSERT_EQ(cmp.exit_code, 0) << cmp.err;
  EXPECT_EQ(cmp.out.find("workload,vm,params,op,mode,n,throughput,ci95,change_pct,change_ci95,sig,"
                         "maps_per_req,inval_per_req,unsteady,bottleneck,simulated"),
            0u)
      << cmp.out;
  EXPECT_NE(cmp.out.find(",SIMULATED"), std::string::npos) << cmp.out;
  EXPECT_NE(cmp.out.find("get,bare-metal,,GET,off,1,"), std::string::npos) << cmp.out;
  EXPECT_NE(cmp.out.find(",n/a,baseline,,"), std::string::npos) << cmp.out;
  for (const char* mode : {"passthrough", "lazy"}) {
    EXPECT_NE(cmp.out.find(absl::StrCat("get,bare-metal,,GET,", mode, ",1,")), std::string::npos)
        << cmp.out;
  }
  EXPECT_EQ(h.Cli({"compare", "1", "--baseline", "strict", "--allow-simulated"}).exit_code, 2);
  // --explain: each mode against off, the IOMMU work per request beside the
  // change (none counted on a simulated node: 0 -> 0).
  CommandResult why = h.Cli({"compare", "1", "--allow-simulated", "--explain", "--format", "csv"});
  ASSERT_EQ(why.exit_code, 0) << why.err;
  EXPECT_EQ(why.out.find("workload,vm,params,op,baseline,mode,throughput_change_pct,maps_per_req,"
                         "unmaps_per_req,inval_per_req,softirq_us_per_req,bottleneck,simulated\n"),
            0u)
      << why.out;
  for (const char* mode : {"passthrough", "lazy"}) {
    EXPECT_NE(why.out.find(absl::StrCat("get,bare-metal,,GET,off,", mode, ",")), std::string::npos)
        << why.out;
  }
  EXPECT_NE(why.out.find("0.00 -> 0.00"), std::string::npos) << why.out;
  // Every row of simulated modes says so.
  size_t marked = 0;
  for (size_t at = why.out.find(",SIMULATED\n"); at != std::string::npos;
       at = why.out.find(",SIMULATED\n", at + 1)) {
    ++marked;
  }
  EXPECT_EQ(marked, 2u) << why.out;

  // The HTML report: written, well-formed (XHTML parses as XML), one cost
  // table for the workload with every mode.
  std::string report = h.dir() / "report.html";
  CommandResult rep = h.Cli({"report", "1", "--out", report});
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  CommandSpec parse;
  parse.argv = {"python3", "-c",
                "import sys, xml.etree.ElementTree as E; t = E.parse(sys.argv[1]); "
                "print(sum(1 for e in t.iter() if e.tag.endswith('svg')))",
                report};
  auto parsed = LocalCommandRunner().Run(parse);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->exit_code, 0) << parsed->err;
  EXPECT_EQ(parsed->out, "1\n");  // one workload, one chart
  std::ifstream html(report);
  std::string text((std::istreambuf_iterator<char>(html)), std::istreambuf_iterator<char>());
  for (const char* mode : {">off<", ">passthrough<", ">lazy<"}) {
    EXPECT_NE(text.find(mode), std::string::npos) << mode;
  }
}

// The agent probes afresh at every registration: a node switched behind
// its back (by hand, a sysfs write) is not reported with the snapshot of
// the agent's start, which could make the controller skip a needed switch.
TEST(NodeControlTest, EveryRegistrationReportsAFreshProbe) {
  Harness h;
  Daemon controller = h.StartController();
  ASSERT_TRUE(controller.WaitForLog("listening on", absl::Seconds(10))) << controller.Log();
  Daemon server = StartSimServer(h);
  ASSERT_TRUE(
      h.WaitForCount("SELECT COUNT(*) FROM nodes WHERE agent_id = 'sim-server' AND "
                     "iommu_mode = 'strict'",
                     1, absl::Seconds(10)))
      << server.Log();
  // Every group now runs DMA-FQ (lazy), as after `echo DMA-FQ > type`.
  for (const auto& group :
       std::filesystem::directory_iterator(h.dir() / "sim-root/sys/kernel/iommu_groups")) {
    std::ofstream(group.path() / "type") << "DMA-FQ\n";
  }
  ::kill(controller.process->pid(), SIGKILL);
  controller.process->Stop(absl::Seconds(1));
  controller = h.StartController();
  EXPECT_TRUE(
      h.WaitForCount("SELECT COUNT(*) FROM nodes WHERE agent_id = 'sim-server' AND "
                     "iommu_mode = 'lazy'",
                     1, absl::Seconds(30)))
      << server.Log() << controller.Log();
}

// The kernel axis on a simulated node: each run is verified in its kernel
// (uname -r), the node boots another kernel with kexec of that kernel's
// image, and a node that comes back in its stock kernel (a power cycle)
// is found in the wrong kernel before the next run and booted into the
// right one again, never measured in the wrong one.
TEST(NodeControlTest, KernelAxisBootsEachKernelAndCatchesAPowerCycle) {
  Harness h;
  Daemon controller = h.StartController();
  ASSERT_TRUE(controller.WaitForLog("listening on", absl::Seconds(10))) << controller.Log();
  // A second kernel installed on the node.
  std::filesystem::create_directories(h.dir() / "sim-root/boot");
  std::ofstream(h.dir() / "sim-root/boot/vmlinuz-6.12.9-fns") << "sim kernel\n";
  Daemon server = StartSimServer(h);
  Daemon client = h.StartAgent("client-1", "client");
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM nodes", 2, absl::Seconds(10)))
      << server.Log() << client.Log();
  auto spec_with = [&](const std::string& name, const std::string& kernels) {
    return h.WriteFile(name + ".yaml", absl::StrCat(R"(name: )", name, R"(
matrix:
  kernel: )",
                                                    kernels, R"(
  iommu: [strict]
  workload: [get]
workloads:
  get:
    app: redis
    generator: {tests: [get], clients: 10, requests: 5000}
switch: kexec
timeouts: {boot: 1m, prepare: 30s, run: 1m, collect: 30s}
)"));
  };
  auto verified_kernels = [&](int experiment) {
    return h.Count(absl::StrCat(
        "SELECT COUNT(*) FROM attempt_evidence e JOIN attempts a ON a.id = e.attempt_id "
        "JOIN runs r ON r.id = a.run_id "
        "JOIN attempt_evidence k ON k.attempt_id = a.id WHERE r.experiment_id = ",
        experiment,
        " AND a.state = 'SUCCEEDED' AND e.key = 'verify.kernel_release' AND k.key = "
        "'kernel.release' AND e.value = k.value"));
  };

  CommandResult r = h.Cli({"submit", spec_with("to-fns", "[6.12.9-fns]"), "--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << server.Log();
  EXPECT_EQ(verified_kernels(1), 1);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'verify.kernel_release' "
                    "AND value = '6.12.9-fns'"),
            1);
  std::ifstream release(h.dir() / "sim-root/proc/sys/kernel/osrelease");
  std::string line;
  std::getline(release, line);
  EXPECT_EQ(line, "6.12.9-fns");

  // A power cycle: the node boots its default (stock) kernel again.
  ::kill(server.process->pid(), SIGKILL);
  server.process->Stop(absl::Seconds(1));
  std::filesystem::remove_all(h.dir() / "sim-root/proc");
  server = StartSimServer(h);
  ASSERT_TRUE(server.WaitForLog("starting (boot", absl::Seconds(10))) << server.Log();

  r = h.Cli({"submit", spec_with("both", "[stock, 6.12.9-fns]"), "--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << server.Log();
  EXPECT_EQ(verified_kernels(2), 2) << server.Log();
  // Found in the stock kernel, the node was booted into 6.12.9-fns again,
  // and back into stock for the stock run.
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM events WHERE experiment_id = 2 AND kind = 'switching' "
                    "AND message LIKE '%kernel 6.1.0-sim-amd64 -> 6.12.9-fns%'"),
            1)
      << h.Cli({"status", "2"}).out;
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM events WHERE experiment_id = 2 AND kind = 'switching' "
                    "AND message LIKE '%kernel 6.12.9-fns -> 6.1.0-sim-amd64 (stock)%'"),
            1);
  // Results keep the kernel with the run's other axis values.
  CommandResult results = h.Cli({"results", "2", "--format", "csv"});
  EXPECT_NE(results.out.find("kernel=6.12.9-fns"), std::string::npos) << results.out;
  EXPECT_NE(results.out.find("kernel=stock"), std::string::npos) << results.out;
}

// nodes.client_iommu: an AMD client, which translates by default, is
// switched into passthrough (a new boot, then verified) before the first
// run, and stays there for the next; every run records the client's mode.
TEST(NodeControlTest, TheSpecSetsTheClientsModeOnceAndEveryRunRecordsIt) {
  Harness h;
  Daemon controller = h.StartController();
  ASSERT_TRUE(controller.WaitForLog("listening on", absl::Seconds(10))) << controller.Log();
  Daemon server = StartSimServer(h);
  Daemon client = h.StartAgent("sim-client", "client", {},
                               {"--simulate_boot", "--sysroot", h.dir() / "sim-client-root",
                                "--sim_vendor", "amd", "--sim_cmdline", "console=ttyS0"});
  ASSERT_TRUE(
      h.WaitForCount("SELECT COUNT(*) FROM nodes WHERE agent_id = 'sim-client' AND "
                     "iommu_mode = 'lazy'",
                     1, absl::Seconds(10)))
      << client.Log();
  std::string spec = h.WriteFile("client-mode.yaml", R"(name: client-mode
matrix:
  iommu: [strict, lazy]
  workload: [get]
workloads:
  get:
    app: redis
    generator: {tests: [get], clients: 10, requests: 5000}
nodes:
  client_iommu: passthrough
switch: kexec
order: {repetitions_across_boots: false}
timeouts: {boot: 1m, prepare: 30s, run: 1m, collect: 30s}
)");
  CommandResult r = h.Cli({"submit", spec, "--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << client.Log();
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 2);
  // One client switch, verified by its probe; the node keeps the mode.
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM events WHERE kind = 'switching_client' AND message = "
                    "'lazy -> passthrough'"),
            1);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM events WHERE kind = 'client_switched'"), 1)
      << Exec({"sqlite3", h.db_path(), "SELECT attempt_id, agent_id, kind, message FROM events"})
             .out
      << client.Log();
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM nodes WHERE agent_id = 'sim-client' AND iommu_mode = "
                    "'passthrough'"),
            1);
  EXPECT_EQ(Occurrences(client.Log(), "restarting as"), 1) << client.Log();
  // The server still switched for its own runs, after the client.
  EXPECT_GE(h.Count("SELECT COUNT(*) FROM events WHERE kind = 'switching'"), 1);
  // Each run: the client's mode as the probe saw it at its switch, or as
  // the node was recorded at assignment.
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'client.detected' AND "
                    "value = 'passthrough'"),
            1);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM attempt_evidence e JOIN attempts a ON a.id = "
                    "e.attempt_id WHERE a.state = 'SUCCEEDED' AND e.key = 'client.iommu_mode'"),
            2);
}

}  // namespace
}  // namespace iommuvm::testing
