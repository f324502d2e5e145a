#pragma once
// Which agents are alive, from their sessions and last contact: the one
// notion both new work (Responsive) and running attempts (SilentFor, judged
// against each attempt's grace) use, so a frozen agent whose stream stays
// open gets no new work and loses its attempts alike.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "absl/time/time.h"
#include "common/clock.h"

namespace iommuvm::scheduler {

class NodeLiveness {
 public:
  NodeLiveness(const Clock* clock, absl::Duration grace) : clock_(clock), grace_(grace) {}

  // A node known from the database at start: offline, its grace counting
  // from now so it has time to reconnect after a controller restart.
  void Known(const std::string& node);
  // A session registered / a heartbeat or data message arrived / the
  // session's stream closed.
  void Connected(const std::string& node);
  void HeardFrom(const std::string& node);
  void Disconnected(const std::string& node);

  bool IsConnected(const std::string& node) const;
  // Connected and heard from within the grace.
  bool Responsive(const std::string& node) const;
  // How long the node has been silent: since its last contact while its
  // session is open, since the session closed otherwise.
  absl::Duration SilentFor(const std::string& node) const;
  // Since its last message, whether or not its session has closed since
  // (infinite for a node never heard of).
  absl::Duration SinceHeard(const std::string& node) const;
  int64_t ConnectedCount() const;

 private:
  struct Node {
    bool connected = false;
    absl::Time last_seen;
    absl::Time disconnected_at;
  };
  const Node* Find(const std::string& node) const;  // mu_ held

  const Clock* clock_;
  absl::Duration grace_;
  // Its own lock, not the scheduler's: a heartbeat is recorded when it
  // arrives even while the scheduler waits on its disk, so a controller
  // stuck in a slow commit does not see its agents as silent.
  mutable std::mutex mu_;
  std::map<std::string, Node> nodes_;
};

}  // namespace iommuvm::scheduler
