#pragma once
// An experiment as the API shows it, at any size: its counts, its runs a
// page at a time (an experiment may have 100k runs; one message with all
// of them passed gRPC's limits and cost seconds), the runs one asks for by
// index with all their evidence, and what changed since a change number
// (WatchExperiment's deltas).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/scheduler/scheduler.h"
#include "controller/store/store.h"
#include "iommuvm/v1/controller.pb.h"

namespace iommuvm::service {

inline constexpr uint32_t kDefaultPageSize = 1000;
inline constexpr uint32_t kMaxPageSize = 10000;

// Where a page starts and how long it is, from a request's page_size and
// page_token (InvalidArgument for a token this controller did not make).
struct RunPage {
  int64_t after_index = -1;  // runs with a greater index
  int64_t size = kDefaultPageSize;
};
absl::StatusOr<RunPage> ParsePage(uint32_t page_size, const std::string& page_token);
// Trims `runs`, read with one run more than the page holds, to the page;
// the token of the next page, "" when this was the last.
std::string NextPageToken(const RunPage& page, std::vector<store::RunRecord>* runs);
// For a first page of `page`'s size: the token of every later page of
// experiment `id`'s runs, in order (a client asks for several at once).
absl::StatusOr<std::vector<std::string>> LaterPageTokens(store::Store* store, int64_t id,
                                                         const RunPage& page);

// The evidence keys a run shows unless asked for by index: what `status`
// prints (the verified mode and group, the boot, the switch).
const std::vector<std::string>& SummaryEvidence();

// The experiment GetExperiment returns for `req`.
absl::StatusOr<v1::Experiment> LoadExperiment(store::Store* store, scheduler::Scheduler* scheduler,
                                              const v1::GetExperimentRequest& req);
// The experiment with only the runs changed after change `since` (0: the
// runs active now), for a watch; no spec.
absl::StatusOr<v1::Experiment> LoadExperimentChanges(store::Store* store,
                                                     scheduler::Scheduler* scheduler, int64_t id,
                                                     int64_t since);

}  // namespace iommuvm::service
