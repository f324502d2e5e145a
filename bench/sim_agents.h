#pragma once
// SimAgents: N simulated agents (sim_agent.h) in one process, each on its
// own gRPC channel and so its own connection to a real controller (a
// distinct channel argument and a local subchannel pool: channels never
// share a subchannel), speaking AgentService.Session through the callback
// API, one ClientBidiReactor per session. Thousands of agents need no
// thread each: gRPC's callback threads take the controller's messages, and
// one ticker thread sends heartbeats, ends loads, and reconnects agents
// back from a simulated reboot. Agents alternate roles: even indexes
// serve, odd ones load, so consecutive agents make a server/client pair.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "bench/sim_agent.h"
#include "bench/sim_node_facts.h"

namespace iommuvm::bench {

struct SimAgentsOptions {
  std::string controller;  // host:port
  int agents = 8;
  std::string id_prefix = "sim";  // agent ids: sim-0000, sim-0001, ...
  // First connections per second, in index order; 0: all at once (a fleet
  // whose controller came back).
  double connect_per_second = 0;
  SimAgentConfig agent;
};

struct SimAgentsStats {
  int agents = 0;
  int registered = 0;       // now in a session the controller acknowledged
  int ever_registered = 0;  // acknowledged at least once
  int failed = 0;           // a session ended that the agent did not end
  int streaming = 0;        // an open attempt's telemetry flowing
  // From Start() to the last first RegisterAck (of those that registered).
  absl::Duration registration;
  SimAgentCounters totals;
};

class SimAgents {
 public:
  // `facts` must outlive this.
  SimAgents(SimAgentsOptions options, SimNodeFacts* facts);
  ~SimAgents();

  // Opens the agents' sessions (at once, or at connect_per_second) and
  // starts the ticker.
  void Start();
  SimAgentsStats Stats() const;
  // Polls Stats() until `done` holds or `timeout` passes; the last stats.
  SimAgentsStats WaitFor(const std::function<bool(const SimAgentsStats&)>& done,
                         absl::Duration timeout) const;
  // What went wrong, most frequent first ("12 x UNAVAILABLE: ..."): failed
  // sessions, agents never acknowledged, messages the controller rejected.
  std::vector<std::string> Problems() const;
  // Ends every session and waits (10 s at most) until they have closed.
  void Stop();

 private:
  class Session;
  struct Slot;
  void Connect(Slot& slot, absl::Time now);
  void Tick();
  void SessionEnded();

  SimAgentsOptions options_;
  SimNodeFacts* facts_;
  std::vector<std::unique_ptr<Slot>> slots_;
  absl::Time started_;
  size_t first_connects_ = 0;  // agents whose first session was opened (ticker only)
  std::atomic<bool> stopping_{false};
  std::thread ticker_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int live_sessions_ = 0;  // mu_
};

}  // namespace iommuvm::bench
