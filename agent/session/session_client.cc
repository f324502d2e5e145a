#include "agent/session/session_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "iommuvm/v1/agent.grpc.pb.h"

namespace iommuvm::agent {
namespace {
constexpr char kLog[] = "agent";
// Unacked messages in flight before the sender waits for acks.
constexpr uint64_t kMaxInFlight = 512;
// A session shorter than this counts as a failed connection for backoff.
constexpr absl::Duration kHealthySession = absl::Seconds(5);
}  // namespace

SessionClient::SessionClient(SessionOptions options, RegisterFn make_register, Outbox* outbox,
                             StepExecutor* executor)
    : options_(std::move(options)),
      make_register_(std::move(make_register)),
      outbox_(outbox),
      executor_(executor) {}

void SessionClient::Run(const std::atomic<bool>* stop) {
  absl::Duration backoff = options_.min_backoff;
  std::mt19937 rng(std::random_device{}());
  int attempt = 0;
  while (!stop->load()) {
    ++attempt;
    bool registered = false;
    absl::Time started = options_.clock->Now();
    absl::Status s = RunOnce(stop, &registered);
    if (stop->load()) break;
    // Only a session that lived a while resets the backoff: one that dies
    // right after registering (a message the controller cannot take, a
    // refused duplicate id) must not turn into a reconnect storm.
    if (registered && options_.clock->Now() - started >= kHealthySession) {
      Log(kLog, "session with controller ", options_.controller_address, " ended: ", s.message());
      backoff = options_.min_backoff;
      attempt = 0;
    } else {
      // Jitter so a fleet of agents does not reconnect in lockstep.
      std::uniform_real_distribution<double> jitter(0.8, 1.2);
      absl::Duration wait = backoff * jitter(rng);
      Log(kLog, registered ? "session ended at once with controller " : "cannot reach controller ",
          options_.controller_address, " (attempt ", attempt, "): ", s.message(), "; retrying in ", absl::FormatDuration(absl::Trunc(wait, absl::Milliseconds(10))));
      absl::Time until = options_.clock->Now() + wait;
      while (!stop->load() && options_.clock->Now() < until) absl::SleepFor(absl::Milliseconds(50));
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }
}

absl::Status SessionClient::AdoptCommitted(const v1::RegisterAck& ack) {
  if (ack.new_outbox()) {
    ASSIGN_OR_RETURN(int64_t renumbered, outbox_->Rebase(ack.committed_seq()));
    Log(kLog, "this agent's outbox (epoch ", outbox_->epoch(),
        ") is new to the controller, which holds sequence numbers up to ", ack.committed_seq(),
        " from an earlier one; ", renumbered, " pending messages renumbered after it");
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(outbox_->AckUpTo(ack.committed_seq()));
  return outbox_->RaiseNextSeq(ack.committed_seq());
}

absl::Status SessionClient::RunOnce(const std::atomic<bool>* stop, bool* registered) {
  std::unique_ptr<v1::AgentService::StubInterface> stub;
  if (options_.connect) {
    stub = options_.connect();
  } else {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
    if (!options_.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(options_.tls_server_name);
    }
    stub = v1::AgentService::NewStub(grpc::CreateCustomChannel(
        options_.controller_address,
        options_.credentials ? options_.credentials : grpc::InsecureChannelCredentials(), args));
  }
  grpc::ClientContext ctx;
  auto stream = stub->Session(&ctx);

  v1::AgentMessage hello;
  *hello.mutable_register_() = make_register_();
  hello.mutable_register_()->set_last_acked_seq(outbox_->last_acked());
  hello.mutable_register_()->set_outbox_epoch(outbox_->epoch());
  for (const auto& id : executor_->ActiveStepIds()) hello.mutable_register_()->add_active_step_ids(id);
  v1::ControllerMessage first;
  absl::Time sent = options_.clock->Now();
  if (!stream->Write(hello) || !stream->Read(&first)) {
    grpc::Status st = stream->Finish();
    return absl::UnavailableError(st.error_message().empty() ? "stream closed"
                                                             : st.error_message());
  }
  if (first.body_case() != v1::ControllerMessage::kRegisterAck) {
    ctx.TryCancel();
    stream->Finish();
    return absl::FailedPreconditionError("controller did not acknowledge registration");
  }
  *registered = true;
  const v1::RegisterAck& ack = first.register_ack();
  if (options_.step_clock && ack.controller_time_ms() > 0) {
    // Before "connected": a guest's host waits for that line, then the
    // run's samples start.
    absl::Duration off =
        ClockOffset(sent, options_.clock->Now(), absl::FromUnixMillis(ack.controller_time_ms()));
    if (absl::AbsDuration(off) < absl::Milliseconds(20)) {
      Log(kLog, "clock: within ", absl::FormatDuration(off), " of the controller's");
    } else if (absl::Status s = options_.step_clock(off); s.ok()) {
      Log(kLog, "clock: set by ", absl::FormatDuration(off), " to the controller's");
    } else {
      Log(kLog, "clock: ", absl::FormatDuration(off),
          " off the controller's, cannot set it: ", s.message());
    }
  }
  absl::Status s = AdoptCommitted(ack);
  if (!s.ok()) {
    // Sending now could reuse numbers the controller already holds.
    ctx.TryCancel();
    stream->Finish();
    return absl::InternalError(absl::StrCat("outbox: ", s.message()));
  }
  absl::Duration heartbeat = absl::Milliseconds(
      ack.heartbeat_interval_ms() > 0 ? ack.heartbeat_interval_ms() : 2000);
  Log(kLog, "connected to controller ", options_.controller_address, "; ",
      outbox_->Pending().value_or(0), " unacked messages to resend");

  std::atomic<bool> reader_done{false};
  std::thread reader([&] {
    v1::ControllerMessage msg;
    while (stream->Read(&msg)) {
      switch (msg.body_case()) {
        case v1::ControllerMessage::kAck: {
          if (!msg.ack().rejected().empty()) {
            Log(kLog, "controller rejected message ", msg.ack().seq(), " for good: ",
                msg.ack().rejected());
          }
          absl::Status a = outbox_->Ack(msg.ack().seq());
          if (!a.ok()) Log(kLog, "outbox: ", a.message());
          break;
        }
        case v1::ControllerMessage::kAssign:
          executor_->Submit(msg.assign().step());
          break;
        case v1::ControllerMessage::kCancel:
          executor_->Cancel(msg.cancel().step_id());
          break;
        default:
          break;
      }
    }
    reader_done = true;
    outbox_->Wake();
  });

  uint64_t last_sent = ack.committed_seq();
  absl::Time next_heartbeat = options_.clock->Now() + heartbeat;
  bool write_failed = false;
  while (!stop->load() && !reader_done.load() && !write_failed) {
    if (last_sent < outbox_->last_acked() + kMaxInFlight) {
      auto batch = outbox_->After(last_sent, 64);
      if (batch.ok()) {
        for (const auto& m : *batch) {
          if (!stream->Write(m)) {
            write_failed = true;
            break;
          }
          last_sent = m.seq();
        }
        if (write_failed || !batch->empty()) continue;
      }
    }
    if (options_.clock->Now() >= next_heartbeat) {
      v1::AgentMessage hb;
      hb.mutable_heartbeat()->set_timestamp_ms(absl::ToUnixMillis(options_.clock->Now()));
      if (!stream->Write(hb)) break;
      next_heartbeat = options_.clock->Now() + heartbeat;
    }
    outbox_->WaitForNew(last_sent,
                        std::min(next_heartbeat - options_.clock->Now(), absl::Milliseconds(500)));
  }
  stream->WritesDone();
  ctx.TryCancel();
  reader.join();
  grpc::Status st = stream->Finish();
  if (stop->load()) return absl::CancelledError("agent stopping");
  return absl::UnavailableError(st.ok() ? "controller closed the session"
                                        : absl::StrCat(st.error_message(), " (code ",
                                                       static_cast<int>(st.error_code()), ")"));
}

}  // namespace iommuvm::agent
