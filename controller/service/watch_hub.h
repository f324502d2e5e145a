#pragma once
// WatchHub: every open WatchExperiment stream, served by one thread. After
// each committed change the hub reads, for each idle watch, its
// experiment's counts and the runs changed since what it last sent, and
// writes them when anything differs; a watch whose experiment has ended is
// finished after its last write. Open watches cost memory, not threads (a
// thread per watch made 300 watches 300 threads), and a change costs the
// runs it changed, not the experiment's size.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "controller/scheduler/scheduler.h"
#include "iommuvm/v1/controller.pb.h"

namespace iommuvm::service {

class WatchHub {
 public:
  // The experiment with the runs changed after change number `since` (0:
  // the runs active now), as experiment_view.h reads it.
  using Loader = std::function<absl::StatusOr<v1::Experiment>(int64_t id, int64_t since)>;
  WatchHub(scheduler::Scheduler* scheduler, Loader load);
  // Finishes every open watch and stops the thread.
  ~WatchHub();

  // A new stream for experiment `id` from change `since` (owned by gRPC;
  // deletes itself).
  grpc::ServerWriteReactor<v1::Experiment>* Open(int64_t id, int64_t since);

 private:
  class Watch;
  void Loop();
  // Writes `w`'s next snapshot if it is idle and the experiment changed;
  // finishes it when it ended or failed to load. Hub mutex held.
  void Serve(Watch* w);
  void Remove(Watch* w);

  scheduler::Scheduler* scheduler_;
  Loader load_;
  std::mutex mu_;
  std::set<Watch*> watches_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace iommuvm::service
