#pragma once
// SessionClient: keeps one Session stream to the controller open for as
// long as the agent runs. Dials with exponential backoff (one log line per
// failed attempt naming the address and the error; it never gives up),
// registers, then sends outbox entries and heartbeats while handing the
// controller's acks, steps and cancels to the Outbox and StepExecutor.

#include <grpcpp/security/credentials.h>

#include <atomic>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/session/outbox.h"
#include "agent/step_executor.h"
#include "common/clock.h"
#include "iommuvm/v1/agent.grpc.pb.h"

namespace iommuvm::agent {

struct SessionOptions {
  std::string controller_address = "127.0.0.1:7070";
  absl::Duration min_backoff = absl::Milliseconds(250);
  absl::Duration max_backoff = absl::Seconds(10);
  const Clock* clock = nullptr;  // backoff, session age and heartbeats; required
  // Makes the stub of one session. Null: a channel to controller_address
  // (tests connect to a controller in the same process).
  std::function<std::unique_ptr<v1::AgentService::StubInterface>()> connect;
  // Mutual TLS (tls/credentials.h); null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string tls_server_name;  // "": the controller address's host
  // Sets this machine's clock by the controller's at each registration
  // (agents in guests: --set_clock_from_controller); null: never.
  std::function<absl::Status(absl::Duration)> step_clock;
};

class SessionClient {
 public:
  using RegisterFn = std::function<v1::Register()>;
  SessionClient(SessionOptions options, RegisterFn make_register, Outbox* outbox,
                StepExecutor* executor);
  // Runs until `stop` is set (then returns within about a second).
  void Run(const std::atomic<bool>* stop);

 private:
  // One connection's lifetime; returns why it ended.
  absl::Status RunOnce(const std::atomic<bool>* stop, bool* registered);
  // Applies the controller's committed sequence to the outbox: drops what
  // it holds, or renumbers what is pending when the outbox is new to it.
  absl::Status AdoptCommitted(const v1::RegisterAck& ack);

  SessionOptions options_;
  RegisterFn make_register_;
  Outbox* outbox_;
  StepExecutor* executor_;
};

}  // namespace iommuvm::agent
