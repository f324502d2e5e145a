#include "controller/service/agent_service.h"

#include <atomic>
#include <deque>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "tls/credentials.h"

namespace iommuvm::service {
namespace {

constexpr char kLog[] = "session";

// Sessions refused for the controller's capacity, over its life.
std::atomic<uint64_t> refused_sessions{0};

class SessionReactor final
    : public grpc::ServerBidiReactor<v1::AgentMessage, v1::ControllerMessage>,
      public SessionSink {
 public:
  SessionReactor(scheduler::Scheduler* scheduler, SessionRegistry* registry, IngestPipeline* ingest,
                 const PeerAuthorization* authorization, std::string peer, std::string peer_cn)
      : scheduler_(scheduler),
        registry_(registry),
        ingest_(ingest),
        session_(ingest->NewSession()),
        authorization_(authorization),
        peer_(std::move(peer)),
        peer_cn_(std::move(peer_cn)) {
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      End(grpc::Status::OK);
      return;
    }
    grpc::Status status = Handle(in_);
    if (!status.ok()) {
      // Storage trouble is logged once by the scheduler, not per session.
      if (!storage_refused_) {
        Log(kLog, "closing session of ", agent_id_.empty() ? peer_ : agent_id_, ": ",
            status.error_message());
      }
      End(status);
      return;
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    out_.pop_front();
    if (!ok) out_.clear();
    if (!out_.empty()) {
      StartWrite(&out_.front());
      return;
    }
    writing_ = false;
    if (end_requested_ && !finished_) {
      finished_ = true;
      Finish(end_status_);
    }
  }

  void OnDone() override {
    if (!agent_id_.empty() && registry_->Detach(agent_id_, this)) {
      scheduler_->OnDisconnect(agent_id_);
    }
    ingest_->EndSession(session_);
    delete this;
  }

  // From the scheduler (any thread). Until the RegisterAck is queued,
  // messages wait, so the agent always reads the ack first.
  void Write(const v1::ControllerMessage& msg) override {
    std::lock_guard lock(mu_);
    if (holding_) {
      held_.push_back(msg);
      return;
    }
    Queue(msg);
  }

  void Close(const std::string& reason) override {
    End(grpc::Status(grpc::StatusCode::ABORTED, reason));
  }

 private:
  void Queue(const v1::ControllerMessage& msg) {  // mu_ held
    if (end_requested_) return;
    out_.push_back(msg);
    if (!writing_) {
      writing_ = true;
      StartWrite(&out_.front());
    }
  }

  void End(const grpc::Status& status) {
    std::lock_guard lock(mu_);
    if (end_requested_) return;
    end_requested_ = true;
    end_status_ = status;
    if (!writing_) {
      finished_ = true;
      Finish(status);
    }
  }

  grpc::Status Handle(v1::AgentMessage& msg) {
    if (agent_id_.empty()) {
      if (msg.body_case() != v1::AgentMessage::kRegister || msg.register_().agent_id().empty()) {
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                            "the first message of a session must be Register with an agent id");
      }
      if (auto s = authorization_->AgentMayRegister(peer_cn_, msg.register_().agent_id());
          !s.ok()) {
        Log(kLog, "refused ", peer_, ": ", s.message());
        return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, std::string(s.message()));
      }
      // Attached before the scheduler learns the agent is here, so a step it
      // assigns at once is not sent into the void; held until the ack.
      {
        std::lock_guard lock(mu_);
        holding_ = true;
      }
      switch (registry_->Attach(msg.register_().agent_id(), this, session_)) {
        case SessionRegistry::Attached::kYes:
          break;
        case SessionRegistry::Attached::kIdTaken:
          return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                              absl::StrCat("agent id '", msg.register_().agent_id(),
                                           "' already has a live session; a second one is "
                                           "refused until it ends"));
        case SessionRegistry::Attached::kFull: {
          std::string why = absl::StrCat(
              "the controller holds its limit of ", registry_->capacity(),
              " agent sessions (set by its open-files limit, or --max_agents); raise the "
              "limit (LimitNOFILE= in its systemd unit, ulimit -n) and restart it");
          // Refused agents retry: a line for the first and every 100th.
          if (refused_sessions.fetch_add(1) % 100 == 0) {
            Log(kLog, "refused agent ", msg.register_().agent_id(), ": ", why);
          }
          return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, why);
        }
      }
      agent_id_ = msg.register_().agent_id();
      std::vector<v1::ControllerMessage> resend;
      auto ack = scheduler_->OnRegister(msg.register_(), &resend);
      if (!ack.ok()) {
        registry_->Detach(agent_id_, this);
        agent_id_.clear();
        storage_refused_ = scheduler::StorageTrouble(ack.status());
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(ack.status().message()));
      }
      v1::ControllerMessage reply;
      *reply.mutable_register_ack() = *ack;
      std::lock_guard lock(mu_);
      Queue(reply);
      for (const auto& m : resend) Queue(m);
      for (const auto& m : held_) Queue(m);
      held_.clear();
      holding_ = false;
      return grpc::Status::OK;
    }
    switch (msg.body_case()) {
      case v1::AgentMessage::kHeartbeat:
        scheduler_->OnHeartbeat(agent_id_);
        return grpc::Status::OK;
      case v1::AgentMessage::kRegister:
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "registered twice");
      default: {
        // Acked by the pipeline once committed and synced; one that cannot
        // be stored closes this session (the agent resends).
        auto queued = std::make_unique<v1::AgentMessage>();
        queued->Swap(&msg);
        ingest_->Submit(session_, agent_id_, std::move(queued));
        return grpc::Status::OK;
      }
    }
  }

  scheduler::Scheduler* scheduler_;
  SessionRegistry* registry_;
  IngestPipeline* ingest_;
  uint64_t session_;  // this session's number in the pipeline
  const PeerAuthorization* authorization_;
  std::string peer_;
  std::string peer_cn_;  // the certificate's common name; empty without TLS
  std::string agent_id_;
  v1::AgentMessage in_;
  bool storage_refused_ = false;  // the session ends for the database's trouble

  std::mutex mu_;
  std::deque<v1::ControllerMessage> out_;
  bool writing_ = false;
  bool holding_ = false;                    // until the RegisterAck is queued
  std::vector<v1::ControllerMessage> held_;  // scheduler messages meanwhile
  bool end_requested_ = false;
  bool finished_ = false;
  grpc::Status end_status_;
};

}  // namespace

grpc::ServerBidiReactor<v1::AgentMessage, v1::ControllerMessage>* AgentServiceImpl::Session(
    grpc::CallbackServerContext* context) {
  return new SessionReactor(scheduler_, registry_, ingest_.get(), &authorization_, context->peer(),
                            tls::PeerCommonName(*context));
}

}  // namespace iommuvm::service
