#include "controller/service/controller_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "controller/scheduler/switch_costs.h"
#include "controller/service/experiment_view.h"
#include "controller/service/proto_convert.h"
#include "spec/vm_shape.h"
#include "tls/credentials.h"

namespace iommuvm::service {
namespace {

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx, const absl::Status& s) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpc(s));
  return reactor;
}

// A stream refused before it starts; deletes itself when gRPC is done.
class RefusedStream final : public grpc::ServerWriteReactor<v1::Experiment> {
 public:
  explicit RefusedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

absl::Status ControllerServiceImpl::Authorize(grpc::CallbackServerContext* ctx) const {
  std::string peer = tls::PeerCommonName(*ctx);
  absl::Status s = authorization_.UserMayCall(peer);
  if (!s.ok()) Log("controller", "refused a call from ", ctx->peer(), ": ", s.message());
  return s;
}

ControllerServiceImpl::ControllerServiceImpl(scheduler::Scheduler* scheduler, store::Store* store,
                                             PeerAuthorization authorization)
    : scheduler_(scheduler),
      store_(store),
      authorization_(authorization),
      watches_(scheduler, [scheduler, store](int64_t id, int64_t since) {
        return LoadExperimentChanges(store, scheduler, id, since);
      }) {}

namespace {

// The experiment without its runs (what a cancel or rerun returns).
absl::StatusOr<v1::Experiment> LoadSummary(store::Store* store, scheduler::Scheduler* scheduler,
                                           int64_t id) {
  v1::GetExperimentRequest req;
  req.set_experiment_id(id);
  req.set_without_runs(true);
  return LoadExperiment(store, scheduler, req);
}

}  // namespace

grpc::ServerUnaryReactor* ControllerServiceImpl::SubmitExperiment(
    grpc::CallbackServerContext* ctx, const v1::SubmitExperimentRequest* req,
    v1::SubmitExperimentResponse* resp) {
  if (auto denied = Authorize(ctx); !denied.ok()) return Done(ctx, denied);
  auto result = scheduler_->Submit(req->spec_yaml(), req->validate_only());
  if (!result.ok()) return Done(ctx, result.status());
  resp->set_experiment_id(result->experiment_id);
  auto copy = [&](const spec::SpecError& e, v1::SpecError* out) {
    out->set_file(req->file_name());
    out->set_line(static_cast<uint32_t>(e.line));
    out->set_column(static_cast<uint32_t>(e.column));
    out->set_key_path(e.key_path);
    out->set_message(e.message);
  };
  for (const auto& e : result->errors) copy(e, resp->add_errors());
  for (const auto& w : result->warnings) copy(w, resp->add_warnings());
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* ControllerServiceImpl::GetExperiment(grpc::CallbackServerContext* ctx,
                                                               const v1::GetExperimentRequest* req,
                                                               v1::Experiment* resp) {
  if (auto denied = Authorize(ctx); !denied.ok()) return Done(ctx, denied);
  auto exp = LoadExperiment(store_, scheduler_, *req);
  if (exp.ok()) *resp = std::move(*exp);
  return Done(ctx, exp.status());
}

grpc::ServerUnaryReactor* ControllerServiceImpl::ListExperiments(
    grpc::CallbackServerContext* ctx, const v1::ListExperimentsRequest*,
    v1::ListExperimentsResponse* resp) {
  if (auto denied = Authorize(ctx); !denied.ok()) return Done(ctx, denied);
  auto list = store_->ListExperiments();
  if (!list.ok()) return Done(ctx, list.status());
  for (const auto& e : *list) {
    auto exp = LoadSummary(store_, scheduler_, e.id);
    if (!exp.ok()) return Done(ctx, exp.status());
    exp->clear_spec_yaml();
    *resp->add_experiments() = std::move(*exp);
  }
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* ControllerServiceImpl::CancelExperiment(
    grpc::CallbackServerContext* ctx, const v1::CancelExperimentRequest* req,
    v1::Experiment* resp) {
  if (auto denied = Authorize(ctx); !denied.ok()) return Done(ctx, denied);
  absl::Status s = scheduler_->Cancel(req->experiment_id());
  if (!s.ok()) return Done(ctx, s);
  auto exp = LoadSummary(store_, scheduler_, req->experiment_id());
  if (exp.ok()) *resp = std::move(*exp);
  return Done(ctx, exp.status());
}

grpc::ServerUnaryReactor* ControllerServiceImpl::RerunExperiment(
    grpc::CallbackServerContext* ctx, const v1::RerunExperimentRequest* req,
    v1::RerunExperimentResponse* resp) {
  if (auto denied = Authorize(ctx); !denied.ok()) return Done(ctx, denied);
  std::vector<std::string> cells(req->cells().begin(), req->cells().end());
  auto queued = scheduler_->Rerun(req->experiment_id(), req->failed(), req->unsteady(), cells);
  if (!queued.ok()) return Done(ctx, queued.status());
  for (uint32_t i : *queued) resp->add_run_indexes(i);
  auto exp = LoadSummary(store_, scheduler_, req->experiment_id());
  if (exp.ok()) *resp->mutable_experiment() = std::move(*exp);
  return Done(ctx, exp.status());
}

grpc::ServerWriteReactor<v1::Experiment>* ControllerServiceImpl::WatchExperiment(
    grpc::CallbackServerContext* ctx, const v1::WatchExperimentRequest* req) {
  if (auto denied = Authorize(ctx); !denied.ok()) return new RefusedStream(ToGrpc(denied));
  return watches_.Open(req->experiment_id(), req->since_change());
}

grpc::ServerUnaryReactor* ControllerServiceImpl::ListAgents(grpc::CallbackServerContext* ctx,
                                                            const v1::ListAgentsRequest*,
                                                            v1::ListAgentsResponse* resp) {
  if (auto denied = Authorize(ctx); !denied.ok()) return Done(ctx, denied);
  auto switches = store_->SwitchTimes();
  if (!switches.ok()) return Done(ctx, switches.status());
  // Each node's switches, grouped once (not a pass over all per node).
  std::map<std::string, std::vector<store::SwitchTime>> by_node;
  for (auto& t : *switches) by_node[t.node].push_back(std::move(t));
  for (const auto& a : scheduler_->Agents()) {
    v1::Agent* agent = resp->add_agents();
    *agent = ToProto(a);
    for (const auto& [method, measured] :
         scheduler::SwitchesOf(by_node[a.node.agent_id], a.node.agent_id)) {
      v1::SwitchCost* cost = agent->add_switch_costs();
      cost->set_method(method);
      cost->set_median_ms(absl::ToInt64Milliseconds(measured.median));
      cost->set_count(static_cast<uint32_t>(measured.count));
    }
  }
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* ControllerServiceImpl::ReleaseAgent(grpc::CallbackServerContext* ctx,
                                                              const v1::ReleaseAgentRequest* req,
                                                              v1::Agent* resp) {
  if (auto denied = Authorize(ctx); !denied.ok()) return Done(ctx, denied);
  absl::Status s = scheduler_->ReleaseAgent(req->agent_id());
  if (!s.ok()) return Done(ctx, s);
  for (const auto& a : scheduler_->Agents()) {
    if (a.node.agent_id == req->agent_id()) *resp = ToProto(a);
  }
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* ControllerServiceImpl::GetResults(grpc::CallbackServerContext* ctx,
                                                            const v1::GetResultsRequest* req,
                                                            v1::GetResultsResponse* resp) {
  if (auto denied = Authorize(ctx); !denied.ok()) return Done(ctx, denied);
  int64_t id = req->experiment_id();
  auto exp = store_->GetExperiment(id);
  if (!exp.ok()) return Done(ctx, exp.status());
  auto page = ParsePage(req->page_size(), req->page_token());
  if (!page.ok()) return Done(ctx, page.status());
  auto read = store_->RunsForResults(id, page->after_index, page->size + 1);
  if (!read.ok()) return Done(ctx, read.status());
  resp->set_next_page_token(NextPageToken(*page, &read->runs));
  if (req->page_token().empty() && !resp->next_page_token().empty()) {
    auto tokens = LaterPageTokens(store_, id, *page);
    if (!tokens.ok()) return Done(ctx, tokens.status());
    for (std::string& t : *tokens) resp->add_page_tokens(std::move(t));
  }
  std::vector<int64_t> ids;
  for (const auto& r : read->runs) ids.push_back(r.id);
  auto results = store_->ResultsOfRuns(ids);
  if (!results.ok()) return Done(ctx, results.status());
  // VM runs carry their guest's shape, from the spec they ran (the
  // scheduler's parsed copy, not a parse per page).
  auto parsed_spec = scheduler_->SpecOf(id);
  for (auto& row : ToResultRows(read->runs, read->attempts, *results, store_)) {
    if (parsed_spec.ok()) {
      if (auto vm = (*parsed_spec)->vms.find(row.vm()); vm != (*parsed_spec)->vms.end()) {
        row.set_vm_shape(spec::VmShape(vm->second));
      }
    }
    *resp->add_rows() = std::move(row);
  }
  return Done(ctx, absl::OkStatus());
}

absl::StatusOr<v1::GetArtifactsResponse> LoadArtifacts(store::Store* store,
                                                       const v1::GetArtifactsRequest& req) {
  int64_t id = req.experiment_id();
  // The one run and its attempts, not the experiment's 100k.
  ASSIGN_OR_RETURN(auto runs, store->ListRuns(id, static_cast<int64_t>(req.run_index()) - 1, 1));
  auto run = runs.begin();
  if (run == runs.end() || run->point.index != req.run_index()) {
    ASSIGN_OR_RETURN(auto counts, store->RunStateCounts(id));
    int64_t total = 0;
    for (const auto& [state, n] : counts) total += n;
    return absl::NotFoundError(absl::StrCat("experiment ", id, " has no run ", req.run_index(),
                                            " (it has ", total, " runs, from 0)"));
  }
  ASSIGN_OR_RETURN(auto attempts, store->AttemptsOfRuns({run->id}, {}));
  const store::AttemptRecord* chosen = nullptr;
  uint32_t count = 0;
  for (const auto& a : attempts) {
    if (a.run_id != run->id) continue;
    ++count;
    bool wanted = req.attempt() == 0 ? (chosen == nullptr || a.number > chosen->number)
                                     : a.number == req.attempt();
    if (wanted) chosen = &a;
  }
  if (chosen == nullptr) {
    return absl::NotFoundError(
        count == 0 ? absl::StrCat("run ", req.run_index(), " has not been attempted yet")
                   : absl::StrCat("run ", req.run_index(), " has ", count,
                                  count == 1 ? " attempt" : " attempts", "; there is no attempt ",
                                  req.attempt()));
  }
  ASSIGN_OR_RETURN(auto artifacts, store->ArtifactsOfAttempt(chosen->id));
  v1::GetArtifactsResponse resp;
  resp.set_attempt_id(chosen->id);
  resp.set_attempt(chosen->number);
  resp.set_attempts(count);
  std::vector<std::string> names;
  for (auto& a : artifacts) {
    names.push_back(a.name);
    if (!req.name().empty() && a.name != req.name()) continue;
    v1::Artifact* out = resp.add_artifacts();
    out->set_name(a.name);
    out->set_size_bytes(a.content.size());
    if (!req.name().empty()) out->set_content(std::move(a.content));
  }
  if (!req.name().empty() && resp.artifacts_size() == 0) {
    return absl::NotFoundError(absl::StrCat(
        "attempt ", chosen->number, " of run ", req.run_index(), " kept no artifact '", req.name(),
        "'; it kept: ", names.empty() ? "none" : absl::StrJoin(names, ", ")));
  }
  return resp;
}

grpc::ServerUnaryReactor* ControllerServiceImpl::GetArtifacts(grpc::CallbackServerContext* ctx,
                                                              const v1::GetArtifactsRequest* req,
                                                              v1::GetArtifactsResponse* resp) {
  if (auto denied = Authorize(ctx); !denied.ok()) return Done(ctx, denied);
  auto loaded = LoadArtifacts(store_, *req);
  if (loaded.ok()) *resp = std::move(*loaded);
  return Done(ctx, loaded.status());
}

}  // namespace iommuvm::service
