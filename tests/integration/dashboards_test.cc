// The Grafana dashboard against a real Prometheus scraping a real
// controller while a real experiment runs: every panel's query is valid
// PromQL and returns data over the experiment's window (hardware counters
// this machine lacks excepted, and then the dashboard says why), every live
// metric it names is one the agents produce (docs/telemetry.md), and an
// attempt's live series are gone once it ends.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "tests/support/fixtures.h"
#include "tests/support/process_harness.h"

namespace iommuvm::testing {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// Dashboards, docs and logs are read whole.
std::string Read(const std::string& path) { return ReadWholeFile(path); }

Struct ParseJson(const std::string& text) {
  Struct s;
  auto st = google::protobuf::util::JsonStringToMessage(text, &s);
  EXPECT_TRUE(st.ok()) << st.message() << ": " << text.substr(0, 300);
  return s;
}

const Value* Field(const Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? nullptr : &it->second;
}

struct Query {
  std::string panel;
  std::string expr;
};

std::vector<Query> DashboardQueries(const Struct& dash) {
  std::vector<Query> out;
  for (const Value& p : Field(dash, "panels")->list_value().values()) {
    const Struct& panel = p.struct_value();
    if (Field(panel, "type")->string_value() == "row") continue;
    const Value* targets = Field(panel, "targets");
    EXPECT_TRUE(targets != nullptr && targets->list_value().values_size() > 0)
        << Field(panel, "title")->string_value();
    if (targets == nullptr) continue;
    for (const Value& t : targets->list_value().values()) {
      out.push_back({Field(panel, "title")->string_value(),
                     Field(t.struct_value(), "expr")->string_value()});
    }
  }
  return out;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string Curl(std::vector<std::string> args) {
  CommandSpec spec;
  spec.argv = {"curl", "-sS", "--max-time", "10"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.timeout = absl::Seconds(15);
  auto r = LocalCommandRunner().Run(spec);
  return r.ok() ? r->out + r->err : std::string(r.status().message());
}

TEST(DashboardsTest, StaticChecksOfTheShippedFiles) {
  Struct dash = ParseJson(Read(IOMMUVM_SOURCE_DIR "/dashboards/iommuvm-live.json"));
  std::set<double> ids;
  for (const Value& p : Field(dash, "panels")->list_value().values()) {
    const Struct& panel = p.struct_value();
    EXPECT_TRUE(ids.insert(Field(panel, "id")->number_value()).second) << "duplicate panel id";
    if (Field(panel, "type")->string_value() == "row") continue;
    EXPECT_EQ(Field(Field(panel, "datasource")->struct_value(), "uid")->string_value(),
              "iommuvm-prometheus");
  }
  EXPECT_NE(Read(IOMMUVM_SOURCE_DIR "/dashboards/provisioning/datasources/prometheus.yaml")
                .find("uid: iommuvm-prometheus"),
            std::string::npos);
  // Every live metric a panel names is one the agents produce.
  std::string telemetry = Read(IOMMUVM_SOURCE_DIR "/docs/telemetry.md");
  std::regex live("iommuvm_live_([a-z_]+)");
  for (const Query& q : DashboardQueries(dash)) {
    for (std::sregex_iterator it(q.expr.begin(), q.expr.end(), live), end; it != end; ++it) {
      EXPECT_NE(telemetry.find(absl::StrCat("`", (*it)[1].str(), "`")), std::string::npos)
          << q.panel << ": " << (*it)[1].str() << " is not in docs/telemetry.md";
    }
  }
  CommandSpec check;
  check.argv = {"promtool", "check", "config", IOMMUVM_SOURCE_DIR "/dashboards/prometheus.yml"};
  auto r = LocalCommandRunner().Run(check);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->out << r->err;
}

TEST(DashboardsTest, EveryPanelQueryReturnsDataFromARealPrometheusScrapingARealController) {
  Harness h;
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(h.StartCluster(&c, {"--metrics=127.0.0.1:0"}));
  std::smatch m;
  std::string log = c.controller.Log();
  ASSERT_TRUE(std::regex_search(log, m, std::regex("metrics on :([0-9]+)"))) << log;
  std::string metrics_port = m[1].str();

  // Prometheus scraping the controller every second.
  std::string config = h.WriteFile(
      "prometheus.yml", absl::StrCat("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                     "scrape_configs:\n  - job_name: iommuvm-controller\n"
                                     "    static_configs:\n      - targets: ['127.0.0.1:",
                                     metrics_port, "']\n"));
  int prom_port = FreePort();
  std::string prom = absl::StrCat("http://127.0.0.1:", prom_port);
  CommandSpec spec;
  spec.argv = {"prometheus", "--config.file=" + config, "--storage.tsdb.path=" + h.dir() / "tsdb",
               absl::StrCat("--web.listen-address=127.0.0.1:", prom_port)};
  spec.log_path = h.dir() / "prometheus.log";
  LocalCommandRunner runner;
  auto prometheus = runner.Start(spec);
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (Curl({prom + "/-/ready"}).find("Ready") == std::string::npos) {
    ASSERT_LT(absl::Now(), deadline) << Read(h.dir() / "prometheus.log");
    absl::SleepFor(absl::Milliseconds(200));
  }

  // Redis GET and SET, long enough to be scraped several times each.
  int64_t start = absl::ToUnixSeconds(absl::Now());
  CommandResult r = h.Cli({"submit", h.WriteFile("spec.yaml", QuickSpec(1, 400000)), "--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  absl::SleepFor(absl::Seconds(3));  // the last scrapes
  int64_t end = absl::ToUnixSeconds(absl::Now());

  Struct dash = ParseJson(Read(IOMMUVM_SOURCE_DIR "/dashboards/iommuvm-live.json"));
  // Panels over hardware this machine may lack: valid PromQL, data not required.
  const std::set<std::string> hardware = {"IOMMU PMU events", "NIC drops and errors"};
  // A query over the experiment's window, every second: Prometheus's answer.
  auto over_the_run = [&](const std::string& expr) {
    return Curl({"-G", prom + "/api/v1/query_range", "--data-urlencode", "query=" + expr,
                 "--data-urlencode", absl::StrCat("start=", start - 5), "--data-urlencode",
                 absl::StrCat("end=", end), "--data-urlencode", "step=1"});
  };
  for (const Query& q : DashboardQueries(dash)) {
    std::string expr =
        absl::StrReplaceAll(q.expr, {{"$experiment", ".*"}, {"$__rate_interval", "5s"}});
    std::string body = over_the_run(expr);
    Struct resp = ParseJson(body);
    ASSERT_NE(Field(resp, "status"), nullptr) << q.panel << ": " << body;
    EXPECT_EQ(Field(resp, "status")->string_value(), "success") << q.panel << ": " << body;
    if (hardware.count(q.panel)) continue;
    const Value* data = Field(resp, "data");
    ASSERT_NE(data, nullptr) << q.panel << ": " << body;
    EXPECT_GT(Field(data->struct_value(), "result")->list_value().values_size(), 0)
        << q.panel << " (" << expr << ") returned no data over the experiment";
  }
  // Where the IOMMU PMU panel stays empty, the dashboard says why.
  std::string unavailable =
      over_the_run("iommuvm_live_telemetry_collector_unavailable{collector=\"iommu_pmu\"}");
  std::string pmu = over_the_run("iommuvm_live_iommu_pmu_events_per_second");
  EXPECT_TRUE(pmu.find("\"result\":[]") == std::string::npos ||
              unavailable.find("\"result\":[]") == std::string::npos)
      << pmu << "\n" << unavailable;

  // Finished attempts leave no live series behind.
  std::string now = Curl({"-G", prom + "/api/v1/query", "--data-urlencode",
                          "query=iommuvm_live_node_cpu_utilization"});
  EXPECT_NE(now.find("\"result\":[]"), std::string::npos) << now;
  (*prometheus)->Stop(absl::Seconds(5));
}

}  // namespace
}  // namespace iommuvm::testing
