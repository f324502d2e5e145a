#include "common/shutdown.h"

#include <signal.h>

#include <thread>

namespace iommuvm {
namespace {
sigset_t TerminationSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}
}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int WaitForTerminationSignal() {
  sigset_t set = TerminationSet();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

}  // namespace iommuvm

namespace iommuvm {

absl::Status RunUntilSignal(const std::function<absl::Status(const std::atomic<bool>*)>& body) {
  std::atomic<bool> stop{false};
  std::thread waiter([&] {
    WaitForTerminationSignal();
    stop = true;
  });
  absl::Status s = body(&stop);
  // Release the waiter if `body` ended on its own.
  if (!stop.exchange(true)) pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  return s;
}

}  // namespace iommuvm
