#pragma once
// One simulated agent's side of AgentService.Session, without the
// transport: the Register it opens each session with, per-agent sequence
// numbers on every data message and a bounded window of unacked ones
// (resent after a reconnect, dropped when acked), heartbeats at the
// interval the RegisterAck gives, and the steps the controller assigns,
// answered the way a fast --simulate_boot agent would: one at a time,
// probe and switch from sim_node_facts.h, servers and loads that only
// stream telemetry (a load for its spec's duration), a reboot that ends
// the session and comes back with a new boot id. Not thread-safe: the
// fleet (sim_agents.h) calls it under a lock.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/time/time.h"
#include "bench/sim_node_facts.h"
#include "iommuvm/v1/agent.pb.h"

namespace iommuvm::bench {

struct SimAgentConfig {
  std::string data_address = "127.0.0.1";  // where its servers "listen"
  std::map<std::string, std::string> labels;
  uint32_t samples_per_batch = 44;
  uint32_t window = 64;  // unacked data messages in flight
  // Metric batches as fast as acks allow (ingest benchmarks); otherwise one
  // per telemetry interval and source, as the real agent sends them.
  bool flood = false;
  absl::Duration reboot_time = absl::Milliseconds(500);  // a simulated reboot's downtime
};

struct SimAgentCounters {
  uint64_t data_sent = 0;  // data messages written, resends included
  uint64_t acked = 0;
  uint64_t samples_acked = 0;
  uint64_t rejected = 0;  // acks saying the controller refused a message for good
  uint64_t heartbeats = 0;
  uint64_t steps = 0;     // steps finished
  uint64_t sessions = 0;  // sessions the controller acknowledged
};

// A metric batch as the simulated agents send it (without step and
// attempt): `samples` samples at `ts_ms`, the first the server's request
// rate (`server`) or the load's throughput (`tool`'s), the rest node
// telemetry as the agent's collectors name it; `n` varies labels and values.
v1::MetricBatch SimMetricBatch(bool server, const std::string& tool, uint32_t samples, uint64_t n,
                               int64_t ts_ms);

class SimAgent {
 public:
  SimAgent(std::string id, v1::Role role, SimAgentConfig config, SimNodeFacts* facts);

  // Whether to open a session now: the first, or after a simulated reboot.
  bool WantsSession(absl::Time now) const;
  // The first message of a new session.
  v1::AgentMessage Hello();
  void OnMessage(const v1::ControllerMessage& msg, absl::Time now);
  // Lets time pass (heartbeats, loads that end, metric intervals); true
  // when there may be something to write.
  bool Tick(absl::Time now);
  // The next message to write now, or none (window full, nothing due).
  std::optional<v1::AgentMessage> NextWrite(absl::Time now);
  // Whether the session should end now (a simulated reboot); once true,
  // nothing more is written in it.
  bool EndSessionNow(absl::Time now);
  // The session ended; unless the agent ended it, it failed with `error`.
  void OnSessionEnd(const std::string& error, absl::Time now);
  // No more sessions; the current one may be cancelled.
  void Stop();

  const std::string& id() const { return id_; }
  v1::Role role() const { return role_; }
  bool registered() const { return registered_; }  // in a session the controller acked
  std::optional<absl::Time> first_registered() const { return first_registered_; }
  // In a live session, with an open attempt's telemetry flowing.
  bool streaming() const;
  const std::string& failure() const { return failure_; }  // "" unless a session failed
  const std::string& last_rejection() const { return last_rejection_; }
  const SimAgentCounters& counters() const { return counters_; }

 private:
  // A telemetry stream of one attempt: its server (StartServer until
  // StopServer) or its load (RunLoad).
  struct Source {
    std::string step_id;
    int64_t attempt_id = 0;
    absl::Duration interval;
    absl::Time next;
    std::string app;  // a server's (its log's name)
  };
  struct Load {
    v1::Step step;
    absl::Time started;  // after the warmup
    absl::Time ends;
  };
  struct Reboot {
    uint64_t started_seq = 0;  // the STARTED update, acked before going down
    absl::Time deadline;       // or given up on (the agent waits 3 s)
    SimSwitch result;
  };

  uint64_t Enqueue(v1::AgentMessage msg);
  void Finish(const v1::Step& step, const std::string& error, bool transient,
              v1::StepUpdate update);
  void RunQueued(absl::Time now);
  void Execute(const v1::Step& step, absl::Time now);
  void SwitchMode(const v1::Step& step, absl::Time now);
  void StopServer(const v1::Step& step);
  void EndLoad(absl::Time now, const std::string& error);
  std::optional<v1::AgentMessage> MakeBatch(absl::Time now);
  bool WindowOpen() const { return unacked_.size() < config_.window; }

  std::string id_;
  v1::Role role_;
  SimAgentConfig config_;
  SimNodeFacts* facts_;
  SimNodeState node_;
  std::string epoch_;  // the outbox's

  bool in_session_ = false, registered_ = false, ending_ = false, stopped_ = false;
  bool connected_once_ = false;
  std::optional<absl::Time> first_registered_;
  std::optional<absl::Time> back_at_;  // a simulated reboot's end
  std::string failure_, last_rejection_;
  SimAgentCounters counters_;
  absl::Duration heartbeat_ = absl::Seconds(2);
  absl::Time next_heartbeat_;

  uint64_t next_seq_ = 1, last_acked_ = 0;
  std::deque<v1::AgentMessage> pending_;          // data not yet written in this session
  std::map<uint64_t, v1::AgentMessage> unacked_;  // written, waiting for their ack
  std::deque<v1::AgentMessage> control_;          // heartbeats
  std::map<int64_t, uint64_t> samples_stored_;    // per attempt (StepUpdate.samples_sent)

  std::deque<v1::Step> queue_;
  std::set<std::string> done_steps_;
  std::optional<Load> load_;
  std::map<int64_t, Source> servers_;  // by attempt
  std::optional<Source> load_source_;
  std::optional<Reboot> reboot_;
  uint64_t batch_counter_ = 0;
  bool last_from_server_ = false;  // round robin between server and load streams
};

}  // namespace iommuvm::bench
