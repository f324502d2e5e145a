#pragma once
// gRPC adapter for the public ControllerService. Converts requests to
// Scheduler/Store calls and absl::Status to grpc::Status; no logic here.

#include "controller/scheduler/scheduler.h"
#include "controller/service/peer_authorization.h"
#include "controller/service/watch_hub.h"
#include "controller/store/store.h"
#include "iommuvm/v1/controller.grpc.pb.h"

namespace iommuvm::service {

class ControllerServiceImpl final : public v1::ControllerService::CallbackService {
 public:
  // `authorization` decides which peers may call (users only, under TLS).
  ControllerServiceImpl(scheduler::Scheduler* scheduler, store::Store* store,
                        PeerAuthorization authorization = PeerAuthorization(false));

  grpc::ServerUnaryReactor* SubmitExperiment(grpc::CallbackServerContext* ctx,
                                             const v1::SubmitExperimentRequest* req,
                                             v1::SubmitExperimentResponse* resp) override;
  grpc::ServerUnaryReactor* GetExperiment(grpc::CallbackServerContext* ctx,
                                          const v1::GetExperimentRequest* req,
                                          v1::Experiment* resp) override;
  grpc::ServerUnaryReactor* ListExperiments(grpc::CallbackServerContext* ctx,
                                            const v1::ListExperimentsRequest* req,
                                            v1::ListExperimentsResponse* resp) override;
  grpc::ServerUnaryReactor* RerunExperiment(grpc::CallbackServerContext* ctx,
                                            const v1::RerunExperimentRequest* req,
                                            v1::RerunExperimentResponse* resp) override;
  grpc::ServerUnaryReactor* CancelExperiment(grpc::CallbackServerContext* ctx,
                                             const v1::CancelExperimentRequest* req,
                                             v1::Experiment* resp) override;
  grpc::ServerWriteReactor<v1::Experiment>* WatchExperiment(
      grpc::CallbackServerContext* ctx, const v1::WatchExperimentRequest* req) override;
  grpc::ServerUnaryReactor* ListAgents(grpc::CallbackServerContext* ctx,
                                       const v1::ListAgentsRequest* req,
                                       v1::ListAgentsResponse* resp) override;
  grpc::ServerUnaryReactor* ReleaseAgent(grpc::CallbackServerContext* ctx,
                                         const v1::ReleaseAgentRequest* req,
                                         v1::Agent* resp) override;
  grpc::ServerUnaryReactor* GetResults(grpc::CallbackServerContext* ctx,
                                       const v1::GetResultsRequest* req,
                                       v1::GetResultsResponse* resp) override;
  grpc::ServerUnaryReactor* GetArtifacts(grpc::CallbackServerContext* ctx,
                                         const v1::GetArtifactsRequest* req,
                                         v1::GetArtifactsResponse* resp) override;

 private:
  // OK when the peer may call; otherwise logged and PermissionDenied.
  absl::Status Authorize(grpc::CallbackServerContext* ctx) const;

  scheduler::Scheduler* scheduler_;
  store::Store* store_;
  PeerAuthorization authorization_;
  WatchHub watches_;  // every WatchExperiment stream, on one thread
};

// The artifacts `req` asks for (one with content, or the list of an
// attempt's), or NotFound naming what exists.
absl::StatusOr<v1::GetArtifactsResponse> LoadArtifacts(store::Store* store,
                                                        const v1::GetArtifactsRequest& req);

}  // namespace iommuvm::service
