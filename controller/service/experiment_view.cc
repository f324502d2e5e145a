#include "controller/service/experiment_view.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/service/proto_convert.h"

namespace iommuvm::service {
namespace {

// The experiment without runs: counts, why it waits, and the change number
// read before anything else, so what follows it is never missed. The spec
// too when `with_spec`.
absl::StatusOr<v1::Experiment> Header(store::Store* store, scheduler::Scheduler* scheduler,
                                      int64_t id, bool with_spec) {
  ASSIGN_OR_RETURN(int64_t change, store->LastChange());
  ASSIGN_OR_RETURN(store::ExperimentRecord e, store->GetExperiment(id));
  ASSIGN_OR_RETURN(auto counts, store->RunStateCounts(id));
  v1::Experiment out = ToProto(e, counts);
  out.set_change(change);
  if (e.state == store::ExperimentState::kQueued || e.state == store::ExperimentState::kRunning)
    out.set_waiting(scheduler->WaitingReason(id));
  if (with_spec) out.set_spec_yaml(std::move(e.spec_yaml));
  return out;
}

std::vector<int64_t> IdsOf(const std::vector<store::RunRecord>& runs) {
  std::vector<int64_t> ids;
  for (const auto& r : runs) ids.push_back(r.id);
  return ids;
}

}  // namespace

absl::StatusOr<RunPage> ParsePage(uint32_t page_size, const std::string& page_token) {
  RunPage page;
  page.size = page_size == 0 ? kDefaultPageSize : std::min(page_size, kMaxPageSize);
  if (!page_token.empty() &&
      (!absl::SimpleAtoi(page_token, &page.after_index) || page.after_index < 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_token '", page_token, "' is not one this controller made (pass next_page_token)"));
  }
  return page;
}

absl::StatusOr<std::vector<std::string>> LaterPageTokens(store::Store* store, int64_t id,
                                                         const RunPage& page) {
  ASSIGN_OR_RETURN(std::vector<int64_t> starts, store->PageStarts(id, page.size));
  std::vector<std::string> tokens;
  tokens.reserve(starts.size());
  for (int64_t after : starts) tokens.push_back(absl::StrCat(after));
  return tokens;
}

std::string NextPageToken(const RunPage& page, std::vector<store::RunRecord>* runs) {
  if (static_cast<int64_t>(runs->size()) <= page.size) return "";
  runs->resize(page.size);
  return absl::StrCat(runs->back().point.index);
}

const std::vector<std::string>& SummaryEvidence() {
  static const std::vector<std::string> kKeys = {"verify.", "switch."};
  return kKeys;
}

absl::StatusOr<v1::Experiment> LoadExperiment(store::Store* store, scheduler::Scheduler* scheduler,
                                              const v1::GetExperimentRequest& req) {
  int64_t id = req.experiment_id();
  v1::Experiment out;
  // Later pages are only runs: counting 100k runs for each cost more than
  // the page.
  if (req.page_token().empty()) {
    ASSIGN_OR_RETURN(out, Header(store, scheduler, id, /*with_spec=*/true));
  } else {
    out.set_id(id);
  }
  if (req.without_runs()) return out;
  std::vector<store::RunRecord> runs;
  std::vector<std::string> evidence = SummaryEvidence();
  if (req.run_indexes_size() > 0) {
    evidence.clear();  // every key: the runs asked for by name
    for (uint32_t index : req.run_indexes()) {
      ASSIGN_OR_RETURN(auto one, store->ListRuns(id, static_cast<int64_t>(index) - 1, 1));
      if (one.empty() || one.front().point.index != index) {
        return absl::NotFoundError(absl::StrCat("experiment ", id, " has no run ", index,
                                                " (it has ", out.runs_total(), " runs, from 0)"));
      }
      runs.push_back(std::move(one.front()));
    }
  } else {
    ASSIGN_OR_RETURN(RunPage page, ParsePage(req.page_size(), req.page_token()));
    ASSIGN_OR_RETURN(runs, store->ListRuns(id, page.after_index, page.size + 1));
    out.set_next_page_token(NextPageToken(page, &runs));
    if (req.page_token().empty() && !out.next_page_token().empty()) {
      ASSIGN_OR_RETURN(auto tokens, LaterPageTokens(store, id, page));
      for (std::string& t : tokens) out.add_page_tokens(std::move(t));
    }
  }
  ASSIGN_OR_RETURN(auto attempts, store->AttemptsOfRuns(IdsOf(runs), evidence));
  AddRuns(runs, attempts, &out);
  return out;
}

absl::StatusOr<v1::Experiment> LoadExperimentChanges(store::Store* store,
                                                     scheduler::Scheduler* scheduler, int64_t id,
                                                     int64_t since) {
  ASSIGN_OR_RETURN(v1::Experiment out, Header(store, scheduler, id, /*with_spec=*/false));
  std::vector<store::RunRecord> runs;
  if (since == 0) {
    ASSIGN_OR_RETURN(runs, store->RunsIn(id, store::RunState::kActive));
  } else {
    ASSIGN_OR_RETURN(runs, store->RunsChangedSince(id, since));
  }
  ASSIGN_OR_RETURN(auto attempts, store->AttemptsOfRuns(IdsOf(runs), SummaryEvidence()));
  AddRuns(runs, attempts, &out);
  return out;
}

}  // namespace iommuvm::service
