#include "controller/service/watch_hub.h"

#include "controller/service/proto_convert.h"
#include "controller/store/states.h"

namespace iommuvm::service {
namespace {

// `state` is the API's name of an experiment state.
bool IsFinal(v1::ExperimentState s) {
  return s == v1::EXPERIMENT_STATE_SUCCEEDED || s == v1::EXPERIMENT_STATE_FAILED ||
         s == v1::EXPERIMENT_STATE_CANCELLED;
}

}  // namespace

// One stream. Its state is guarded by the hub's mutex; gRPC's callbacks
// take it too, so the hub never touches a watch gRPC has let go of.
class WatchHub::Watch final : public grpc::ServerWriteReactor<v1::Experiment> {
 public:
  Watch(WatchHub* hub, int64_t id, int64_t since) : hub_(hub), id(id), since(since) {}

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(hub_->mu_);
    writing = false;
    if (!ok) {
      End(grpc::Status::CANCELLED);
    } else if (ending) {
      End(grpc::Status::OK);
    } else {
      hub_->Serve(this);  // dirty when a change came during the write
    }
  }
  void OnCancel() override {
    std::lock_guard lock(hub_->mu_);
    if (!writing) End(grpc::Status::CANCELLED);
    ending = true;
  }
  void OnDone() override {
    hub_->Remove(this);
    delete this;
  }
  // Finishes the stream once (hub mutex held).
  void End(const grpc::Status& s) {
    if (finished) return;
    finished = true;
    Finish(s);
  }

  WatchHub* hub_;
  const int64_t id;
  bool writing = false;  // a write is in flight
  bool ending = false;   // finish after the write in flight
  bool finished = false;
  bool dirty = true;       // the experiment may have changed since the last look
  int64_t since;           // the change number the client has everything up to
  std::string last_sent;   // the experiment without runs, as last written
  v1::Experiment pending;  // the message being written
};

WatchHub::WatchHub(scheduler::Scheduler* scheduler, Loader load)
    : scheduler_(scheduler), load_(std::move(load)), thread_([this] { Loop(); }) {}

WatchHub::~WatchHub() {
  stop_ = true;
  thread_.join();
  std::lock_guard lock(mu_);
  for (Watch* w : watches_) w->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down"));
}

grpc::ServerWriteReactor<v1::Experiment>* WatchHub::Open(int64_t id, int64_t since) {
  auto* w = new Watch(this, id, since);
  std::lock_guard lock(mu_);
  watches_.insert(w);
  Serve(w);  // the first snapshot at once
  return w;
}

void WatchHub::Remove(Watch* w) {
  std::lock_guard lock(mu_);
  watches_.erase(w);
}

void WatchHub::Serve(Watch* w) {
  if (w->finished || w->writing || w->ending || !w->dirty) return;
  w->dirty = false;
  auto exp = load_(w->id, w->since);
  if (!exp.ok()) {
    w->End(ToGrpc(exp.status()));
    return;
  }
  bool first = w->last_sent.empty();
  // The next look asks for what follows this one.
  w->since = exp->change();
  v1::Experiment header = *exp;
  header.clear_runs();
  header.clear_change();
  std::string serialized = header.SerializeAsString();
  bool final = IsFinal(exp->state());
  if (!first && serialized == w->last_sent && exp->runs_size() == 0) {
    if (final) w->End(grpc::Status::OK);
    return;
  }
  w->last_sent = std::move(serialized);
  w->pending = std::move(*exp);
  w->writing = true;
  w->ending = final;  // the last snapshot of an ended experiment
  w->StartWrite(&w->pending);
}

void WatchHub::Loop() {
  uint64_t seen = scheduler_->version();
  while (!stop_.load()) {
    uint64_t now = scheduler_->WaitForChange(seen, absl::Milliseconds(500));
    if (now == seen) continue;
    seen = now;
    std::lock_guard lock(mu_);
    for (Watch* w : watches_) {
      w->dirty = true;
      Serve(w);
    }
  }
}

}  // namespace iommuvm::service
