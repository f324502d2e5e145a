#pragma once
// Who is connected right now: agent id -> the open Session stream. The
// scheduler sends to agents only through the AgentGateway interface.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "iommuvm/v1/agent.pb.h"

namespace iommuvm::service {

class AgentGateway {
 public:
  virtual ~AgentGateway() = default;
  // Queues `msg` on the agent's open session; false when it has none.
  virtual bool Send(const std::string& agent_id, const v1::ControllerMessage& msg) = 0;
};

// A session's outgoing side, implemented by the stream reactor.
class SessionSink {
 public:
  virtual ~SessionSink() = default;
  // Queues a message for writing; never blocks.
  virtual void Write(const v1::ControllerMessage& msg) = 0;
  // Ends the session (e.g. replaced by a newer one from the same agent).
  virtual void Close(const std::string& reason) = 0;
};

class SessionRegistry final : public AgentGateway {
 public:
  // At most `capacity` sessions at once (each holds a socket; see
  // common/open_files.h); unlimited until set.
  void set_capacity(size_t capacity);
  size_t capacity() const;
  enum class Attached { kYes, kIdTaken, kFull };
  // Makes `sink` the agent's session. kIdTaken, changing nothing, when the
  // agent id already has a live session: the older one wins until it is
  // gone, so a second process (or an impostor) using the id cannot evict it.
  // kFull when `capacity` sessions are open.
  // `session` numbers it (IngestPipeline::NewSession), for CloseSession.
  Attached Attach(const std::string& agent_id, SessionSink* sink, uint64_t session = 0);
  // Removes `sink` if it is still the agent's session; true if it was.
  bool Detach(const std::string& agent_id, SessionSink* sink);
  bool Send(const std::string& agent_id, const v1::ControllerMessage& msg) override;
  // Whether the agent has a session now.
  bool Connected(const std::string& agent_id) const;
  // Ends the agent's session, if it has one (it reconnects and resends).
  void Close(const std::string& agent_id, const std::string& reason);
  // The same, only if that session is still number `session`: a newer one
  // the agent opened meanwhile stays.
  void CloseSession(const std::string& agent_id, uint64_t session, const std::string& reason);
  size_t size() const;

 private:
  mutable std::mutex mu_;
  struct Entry {
    SessionSink* sink;
    uint64_t session;
  };
  std::map<std::string, Entry> sessions_;
  size_t capacity_ = SIZE_MAX;
};

}  // namespace iommuvm::service
