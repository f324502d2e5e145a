#include "bench/sim_agents.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/client_callback.h>

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "iommuvm/v1/agent.grpc.pb.h"

namespace iommuvm::bench {
namespace {

// Heartbeats are due every 2 s; loads end and reboots come back within a tick.
constexpr absl::Duration kTick = absl::Milliseconds(50);

std::string StatusText(const grpc::Status& s) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  int code = static_cast<int>(s.error_code());
  std::string name = code >= 0 && code <= 16 ? kNames[code] : absl::StrCat("code ", code);
  return s.error_message().empty() ? name : absl::StrCat(name, ": ", s.error_message());
}

}  // namespace

struct SimAgents::Slot {
  explicit Slot(SimAgent a) : agent(std::move(a)) {}
  std::mutex mu;
  SimAgent agent;  // mu
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::AgentService::Stub> stub;
  std::shared_ptr<Session> session;  // mu; the live one, if any
};

// One session of one agent. Writes are started by whichever thread finds
// something to send (a reaction, or the ticker); `writing_` lets one at a
// time through. gRPC's own calls are made without the slot's lock held.
// The hold taken before StartCall keeps the stream open for writes from
// outside the reactions until reads have ended and no write is in flight.
class SimAgents::Session final
    : public grpc::ClientBidiReactor<v1::AgentMessage, v1::ControllerMessage> {
 public:
  Session(SimAgents* fleet, Slot* slot) : fleet_(fleet), slot_(slot) {}

  void Begin(v1::AgentMessage hello) {
    slot_->stub->async()->Session(&ctx_, this);
    out_ = std::move(hello);  // writing_ is already true: nobody else writes yet
    StartWrite(&out_);
    StartRead(&in_);
    AddHold();
    StartCall();
  }

  void Cancel() { ctx_.TryCancel(); }

  // Writes the agent's next message if none is in flight.
  void Pump() {
    std::unique_lock lock(slot_->mu);
    if (slot_->session.get() != this || writing_ || read_done_ || write_failed_) return;
    std::optional<v1::AgentMessage> next = slot_->agent.NextWrite(absl::Now());
    if (!next) return;
    out_ = std::move(*next);
    writing_ = true;
    lock.unlock();
    StartWrite(&out_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      bool release;
      {
        std::lock_guard lock(slot_->mu);
        read_done_ = true;
        release = !writing_ && !hold_released_;
        hold_released_ |= release;
      }
      if (release) RemoveHold();
      return;
    }
    {
      std::lock_guard lock(slot_->mu);
      slot_->agent.OnMessage(in_, absl::Now());
    }
    StartRead(&in_);
    Pump();
  }

  void OnWriteDone(bool ok) override {
    bool release = false;
    {
      std::lock_guard lock(slot_->mu);
      writing_ = false;
      write_failed_ |= !ok;
      if (read_done_ && !hold_released_) release = hold_released_ = true;
    }
    if (!ok) ctx_.TryCancel();  // the stream is broken: end the reads too
    if (release) {
      RemoveHold();
    } else if (ok) {
      Pump();
    }
  }

  void OnDone(const grpc::Status& status) override {
    std::shared_ptr<Session> self;  // the slot's reference, released on return
    {
      std::lock_guard lock(slot_->mu);
      if (slot_->session.get() == this) self = std::move(slot_->session);
      slot_->agent.OnSessionEnd(status.ok() ? "" : StatusText(status), absl::Now());
    }
    fleet_->SessionEnded();
  }

 private:
  SimAgents* fleet_;
  Slot* slot_;
  grpc::ClientContext ctx_;
  v1::AgentMessage out_;
  v1::ControllerMessage in_;
  // Under slot_->mu.
  bool writing_ = true;  // the Register, from Begin
  bool read_done_ = false;
  bool write_failed_ = false;
  bool hold_released_ = false;
};

SimAgents::SimAgents(SimAgentsOptions options, SimNodeFacts* facts)
    : options_(std::move(options)), facts_(facts) {
  for (int i = 0; i < options_.agents; ++i) {
    std::string id = absl::StrFormat("%s-%04d", options_.id_prefix, i);
    v1::Role role = i % 2 == 0 ? v1::ROLE_SERVER : v1::ROLE_CLIENT;
    slots_.push_back(std::make_unique<Slot>(SimAgent(id, role, options_.agent, facts_)));
  }
}

SimAgents::~SimAgents() {
  Stop();
  std::lock_guard lock(mu_);
  // A session that never closed still points at its slot: leak the slots
  // rather than let a late callback touch freed memory.
  if (live_sessions_ > 0) {
    for (auto& slot : slots_) (void)slot.release();
  }
}

void SimAgents::Start() {
  started_ = absl::Now();
  for (size_t i = 0; i < slots_.size(); ++i) {
    grpc::ChannelArguments args;
    // One connection per agent, as separate processes would have.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("iommuvm.sim_agent", static_cast<int>(i));
    // The real agent's keepalive (agent/session/session_client.cc).
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
    slots_[i]->channel =
        grpc::CreateCustomChannel(options_.controller, grpc::InsecureChannelCredentials(), args);
    slots_[i]->stub = v1::AgentService::NewStub(slots_[i]->channel);
  }
  if (options_.connect_per_second <= 0) {
    for (auto& slot : slots_) Connect(*slot, absl::Now());
    first_connects_ = slots_.size();
  }
  ticker_ = std::thread([this] { Tick(); });
}

void SimAgents::Connect(Slot& slot, absl::Time now) {
  std::shared_ptr<Session> session;
  v1::AgentMessage hello;
  {
    std::lock_guard lock(slot.mu);
    if (slot.session || stopping_.load() || !slot.agent.WantsSession(now)) return;
    hello = slot.agent.Hello();
    session = std::make_shared<Session>(this, &slot);
    slot.session = session;
  }
  {
    std::lock_guard lock(mu_);
    ++live_sessions_;
  }
  session->Begin(std::move(hello));
}

void SimAgents::Tick() {
  while (!stopping_.load()) {
    absl::Time now = absl::Now();
    // Agents not yet due for their first session wait their turn.
    size_t due = slots_.size();
    if (options_.connect_per_second > 0) {
      due = std::min(due, static_cast<size_t>(absl::ToDoubleSeconds(now - started_) *
                                              options_.connect_per_second) +
                              1);
    }
    for (; first_connects_ < due; ++first_connects_) Connect(*slots_[first_connects_], now);
    for (size_t i = 0; i < first_connects_; ++i) {
      Slot* slot = slots_[i].get();
      std::shared_ptr<Session> session;
      bool work = false, end = false, connect = false;
      {
        std::lock_guard lock(slot->mu);
        work = slot->agent.Tick(now);
        session = slot->session;
        if (session) {
          end = slot->agent.EndSessionNow(now);
        } else {
          connect = slot->agent.WantsSession(now);
        }
      }
      if (connect) {
        Connect(*slot, now);
      } else if (session && end) {
        session->Cancel();
      } else if (session && work) {
        session->Pump();
      }
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, absl::ToChronoNanoseconds(kTick), [&] { return stopping_.load(); });
  }
}

void SimAgents::SessionEnded() {
  std::lock_guard lock(mu_);
  --live_sessions_;
  cv_.notify_all();
}

SimAgentsStats SimAgents::Stats() const {
  SimAgentsStats st;
  for (const auto& slot : slots_) {
    std::lock_guard lock(slot->mu);
    const SimAgent& a = slot->agent;
    ++st.agents;
    st.registered += a.registered();
    st.failed += !a.failure().empty();
    st.streaming += a.streaming();
    if (a.first_registered()) {
      ++st.ever_registered;
      st.registration = std::max(st.registration, *a.first_registered() - started_);
    }
    const SimAgentCounters& c = a.counters();
    st.totals.data_sent += c.data_sent;
    st.totals.acked += c.acked;
    st.totals.samples_acked += c.samples_acked;
    st.totals.rejected += c.rejected;
    st.totals.heartbeats += c.heartbeats;
    st.totals.steps += c.steps;
    st.totals.sessions += c.sessions;
  }
  return st;
}

SimAgentsStats SimAgents::WaitFor(const std::function<bool(const SimAgentsStats&)>& done,
                                  absl::Duration timeout) const {
  absl::Time deadline = absl::Now() + timeout;
  SimAgentsStats st = Stats();
  while (!done(st) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    st = Stats();
  }
  return st;
}

std::vector<std::string> SimAgents::Problems() const {
  std::map<std::string, int> counts;
  for (const auto& slot : slots_) {
    std::lock_guard lock(slot->mu);
    const SimAgent& a = slot->agent;
    if (!a.failure().empty()) {
      counts[absl::StrCat(a.first_registered() ? "session failed: " : "never registered: ",
                          a.failure())]++;
    } else if (!a.first_registered()) {
      counts["never registered: no RegisterAck yet"]++;
    }
    if (!a.last_rejection().empty()) counts["controller rejected " + a.last_rejection()]++;
  }
  std::vector<std::pair<int, std::string>> sorted;
  for (const auto& [text, n] : counts) sorted.emplace_back(n, text);
  std::sort(sorted.rbegin(), sorted.rend());
  std::vector<std::string> out;
  for (const auto& [n, text] : sorted) out.push_back(absl::StrCat(n, " x ", text));
  return out;
}

void SimAgents::Stop() {
  if (stopping_.exchange(true)) return;
  cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  for (auto& slot : slots_) {
    std::shared_ptr<Session> session;
    {
      std::lock_guard lock(slot->mu);
      slot->agent.Stop();
      session = slot->session;
    }
    if (session) session->Cancel();
  }
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::seconds(10), [&] { return live_sessions_ == 0; });
}

}  // namespace iommuvm::bench
