#pragma once
// The scheduler test fixture: a real SqliteStore in a temp file, a fake
// clock and a gateway recording what is sent, helpers that answer steps as
// agents would.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include "controller/scheduler/scheduler.h"
#include "controller/scheduler/step_builder.h"
#include "controller/store/sqlite_store.h"
#include "planner/planner.h"
#include "spec/matrix.h"
#include "spec/spec_parser.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/controller/scheduler/probe_report.h"

namespace iommuvm::scheduler {
namespace {  // one copy per test file

using ::iommuvm::testing::IsOk;
using ::iommuvm::testing::StatusIs;
using ::testing::HasSubstr;

// Records what the scheduler sends, per agent.
class FakeGateway final : public service::AgentGateway {
 public:
  bool Send(const std::string& agent_id, const v1::ControllerMessage& msg) override {
    sent[agent_id].push_back(msg);
    return true;
  }
  // The last Assign sent to `agent` (fails the test if there is none).
  v1::Step LastStep(const std::string& agent) {
    for (auto it = sent[agent].rbegin(); it != sent[agent].rend(); ++it) {
      if (it->has_assign()) return it->assign().step();
    }
    ADD_FAILURE() << "no step sent to " << agent;
    return {};
  }
  std::map<std::string, std::vector<v1::ControllerMessage>> sent;
};

constexpr char kSpec[] = R"(name: t
matrix:
  workload: [w]
repetitions: 1
retries: 1
workloads:
  w:
    app: redis
    generator:
      requests: 1000
)";

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("scheduler_test_" + std::to_string(::getpid()) + ".db"))
                .string();
    for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + s);
    store_ = *store::SqliteStore::Open(path_, &clock_);
    Restart();
  }
  // The scheduler's options in these tests: an agent is lost after 10 s.
  static SchedulerOptions Options() {
    SchedulerOptions options;
    options.agent_grace = absl::Seconds(10);
    return options;
  }
  // A new scheduler on the same store: a controller restart, or other options.
  void Restart(const SchedulerOptions& options = Options(), ControllerMetrics* metrics = nullptr) {
    scheduler_ = std::make_unique<Scheduler>(store_.get(), &gateway_, &clock_, metrics, options);
  }
  void TearDown() override {
    for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + s);
  }

  void Register(const std::string& id, v1::Role role) {
    v1::Register reg;
    reg.set_agent_id(id);
    reg.add_roles(role);
    for (const char* tool : {"redis-server", "redis-benchmark", "qemu-system-x86_64"}) {
      (*reg.mutable_software_versions())[tool] = "7.0.15";
    }
    reg.set_boot_id("boot-" + id);
    reg.set_data_address("127.0.0.1");
    std::vector<v1::ControllerMessage> resend;
    ASSERT_THAT(scheduler_->OnRegister(reg, &resend), IsOk());
  }
  // Registers a VM run's guest agent, as the guest image's init starts it.
  void RegisterGuest(const std::string& id, const std::string& host, v1::ProbeReport probe) {
    v1::Register reg;
    reg.set_agent_id(id);
    reg.add_roles(v1::ROLE_SERVER);
    (*reg.mutable_labels())["iommuvm.parent"] = host;
    reg.set_boot_id(probe.boot_id());
    reg.set_data_address("10.0.2.2");
    *reg.mutable_probe() = std::move(probe);
    std::vector<v1::ControllerMessage> resend;
    ASSERT_THAT(scheduler_->OnRegister(reg, &resend), IsOk());
  }
  // Registers "srv" as a server after `customize` set what the test needs
  // (boot id, inventory, the probe's mode).
  void RegisterServer(const std::function<void(v1::Register&)>& customize) {
    v1::Register reg;
    reg.set_agent_id("srv");
    reg.add_roles(v1::ROLE_SERVER);
    customize(reg);
    std::vector<v1::ControllerMessage> resend;
    ASSERT_THAT(scheduler_->OnRegister(reg, &resend), IsOk());
  }
  // A VM config that needs what a server node lacks is refused at submit,
  // naming the node and what it lacks; once the node reports it, admitted.
  // `lacking` and `having` set the node's inventory.
  void ExpectRefusedThenAdmitted(const std::string& spec,
                                 const std::function<void(v1::Inventory*)>& lacking,
                                 const std::function<void(v1::Inventory*)>& having,
                                 const std::string& error) {
    auto server = [](const std::function<void(v1::Inventory*)>& inventory) {
      return [inventory](v1::Register& reg) {
        (*reg.mutable_software_versions())["qemu-system-x86_64"] = "7.2.22";
        (*reg.mutable_software_versions())["redis-server"] = "7.0.15";
        inventory(reg.mutable_inventory());
      };
    };
    RegisterServer(server(lacking));
    auto r = scheduler_->Submit(spec);
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->experiment_id, 0);
    ASSERT_EQ(r->errors.size(), 1u);
    EXPECT_EQ(r->errors[0].Format("t"), error);
    RegisterServer(server(having));
    r = scheduler_->Submit(spec);
    ASSERT_THAT(r, IsOk());
    EXPECT_GT(r->experiment_id, 0) << (r->errors.empty() ? "" : r->errors[0].Format("t"));
  }
  // A SwitchMode step's outcome: STARTED going down (`rebooting`) or
  // SUCCEEDED with the probe of the boot it ended in.
  absl::Status Switched(const std::string& agent, const v1::Step& step, v1::StepUpdate::Phase phase,
                        const std::string& method, const std::string& boot_id_before,
                        std::optional<v1::ProbeReport> probe = std::nullopt) {
    v1::StepUpdate u;
    v1::SwitchOutcome* o = u.mutable_switch_outcome();
    o->set_method(method);
    o->set_boot_id_before(boot_id_before);
    o->set_rebooting(phase == v1::StepUpdate::PHASE_STARTED);
    if (probe) *o->mutable_probe() = *probe;
    return Send(agent, step, phase, std::move(u));
  }
  // A VerifyMode step's report (`evidence` is provenance, stored as is).
  absl::Status Verified(const std::string& agent, const v1::Step& step, v1::ProbeReport probe,
                        std::map<std::string, std::string> evidence = {}) {
    v1::StepUpdate u;
    *u.mutable_probe() = std::move(probe);
    u.mutable_evidence()->insert(evidence.begin(), evidence.end());
    return Send(agent, step, v1::StepUpdate::PHASE_SUCCEEDED, std::move(u));
  }
  absl::Status Send(const std::string& agent, const v1::Step& step, v1::StepUpdate::Phase phase,
                    v1::StepUpdate u) {
    v1::AgentMessage m;
    m.set_seq(++seq_[agent]);
    u.set_step_id(step.step_id());
    u.set_attempt_id(step.attempt_id());
    u.set_phase(phase);
    *m.mutable_step_update() = std::move(u);
    return scheduler_->OnData(agent, m).status();
  }
  absl::Status Update(const std::string& agent, const v1::Step& step, v1::StepUpdate::Phase phase,
                      const std::string& error = "",
                      std::map<std::string, std::string> evidence = {}, bool transient = false) {
    v1::AgentMessage m;
    m.set_seq(++seq_[agent]);
    v1::StepUpdate* u = m.mutable_step_update();
    u->set_step_id(step.step_id());
    u->set_attempt_id(step.attempt_id());
    u->set_phase(phase);
    u->set_error(error);
    u->mutable_evidence()->insert(evidence.begin(), evidence.end());
    u->set_endpoint_host("127.0.0.1");
    u->set_endpoint_port(6379);
    u->set_transient(transient);
    return scheduler_->OnData(agent, m).status();
  }
  absl::Status Result(const std::string& agent, const v1::Step& step) {
    v1::AgentMessage m;
    m.set_seq(++seq_[agent]);
    v1::RunResult* r = m.mutable_run_result();
    r->set_step_id(step.step_id());
    r->set_attempt_id(step.attempt_id());
    r->set_tool("redis-benchmark");
    r->add_operations()->set_throughput_ops(throughput_());
    // A 2 s load, and the server's own rate over it, as real agents send.
    int64_t now = absl::ToUnixMillis(clock_.Now());
    r->set_load_started_ms(now - 2000);
    r->set_load_ended_ms(now);
    auto a = store_->GetAttempt(step.attempt_id());
    if (a.ok() && !a->server_node.empty()) {
      // The server's own counter, sent from where it runs (a VM run's guest).
      std::string server =
          a->evidence.count("vm.guest_id") ? a->evidence.at("vm.guest_id") : a->server_node;
      v1::AgentMessage batch;
      batch.set_seq(++seq_[server]);
      batch.mutable_metric_batch()->set_attempt_id(step.attempt_id());
      for (int64_t ts = now - 1500; ts <= now; ts += 500) {
        v1::MetricSample* s = batch.mutable_metric_batch()->add_samples();
        s->set_name("server_requests_per_second");
        s->set_timestamp_ms(ts);
        s->set_value(1000);
      }
      absl::Status sent = scheduler_->OnData(server, batch).status();
      if (!sent.ok()) return sent;
    }
    return scheduler_->OnData(agent, m).status();
  }
  // A Tick, then every VerifyMode step just sent answered as the agent's
  // probe would on a node in the expected mode.
  void TickAndVerify() {
    ASSERT_THAT(scheduler_->Tick(), IsOk());
    for (auto& [agent, msgs] : gateway_.sent) {
      if (msgs.empty() || !msgs.back().has_assign()) continue;
      v1::Step step = msgs.back().assign().step();
      if (!step.has_verify_mode() || verified_.count(step.step_id())) continue;
      verified_.insert(step.step_id());
      ASSERT_THAT(Verified(agent, step, Probe("lazy", "boot-" + agent)), IsOk());
    }
  }
  // Drives the attempt whose StartServer was last sent to `server` through
  // every step to SUCCEEDED; returns its run's index (-1 if none pending).
  int RunToCompletion(const std::string& server, const std::string& client) {
    v1::Step start = gateway_.LastStep(server);
    if (!start.has_start_server() || finished_.count(start.attempt_id())) return -1;
    finished_.insert(start.attempt_id());
    EXPECT_THAT(Update(server, start, v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
    v1::Step load = gateway_.LastStep(client);
    EXPECT_THAT(Result(client, load), IsOk());
    EXPECT_THAT(Update(client, load, v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
    EXPECT_THAT(Update(server, gateway_.LastStep(server), v1::StepUpdate::PHASE_SUCCEEDED), IsOk());
    auto a = *store_->GetAttempt(start.attempt_id());
    return static_cast<int>(store_->GetRun(a.run_id)->point.index);
  }
  int64_t Submit() {
    auto r = scheduler_->Submit(kSpec);
    EXPECT_THAT(r, IsOk());
    EXPECT_TRUE(r->errors.empty());
    return r->experiment_id;
  }

  FakeClock clock_;
  FakeGateway gateway_;
  std::string path_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<Scheduler> scheduler_;
  std::map<std::string, uint64_t> seq_;
  std::set<int64_t> finished_;
  std::set<std::string> verified_;
  // The throughput each Result reports (tests of repetitions vary it).
  std::function<double()> throughput_ = [] { return 1000.0; };
  std::pair<int64_t, v1::Step> StartStrictAttempt();
};

}  // namespace
}  // namespace iommuvm::scheduler
