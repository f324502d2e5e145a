#pragma once
// gRPC adapter for AgentService.Session: one reactor per connected agent.
// It only translates messages; decisions are the Scheduler's.

#include <memory>

#include "controller/metrics.h"
#include "controller/scheduler/scheduler.h"
#include "controller/service/ingest_pipeline.h"
#include "controller/service/peer_authorization.h"
#include "controller/service/session_registry.h"
#include "iommuvm/v1/agent.grpc.pb.h"

namespace iommuvm::service {

class AgentServiceImpl final : public v1::AgentService::CallbackService {
 public:
  // Acks go through `gateway`, after the commits they acknowledge are synced.
  // `authorization` decides which certificate may register which agent id.
  AgentServiceImpl(scheduler::Scheduler* scheduler, SessionRegistry* registry,
                   AgentGateway* gateway,
                   PeerAuthorization authorization = PeerAuthorization(false))
      : scheduler_(scheduler),
        registry_(registry),
        gateway_(gateway),
        authorization_(authorization),
        ingest_(std::make_unique<IngestPipeline>(scheduler, registry, gateway)) {}

  grpc::ServerBidiReactor<v1::AgentMessage, v1::ControllerMessage>* Session(
      grpc::CallbackServerContext* context) override;

 private:
  scheduler::Scheduler* scheduler_;
  SessionRegistry* registry_;
  AgentGateway* gateway_;
  PeerAuthorization authorization_;
  // Data messages from every session, applied in groups off their threads.
  std::unique_ptr<IngestPipeline> ingest_;
};

}  // namespace iommuvm::service
