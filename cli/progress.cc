#include "cli/progress.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/command_support.h"
#include "iommu/mode_names.h"
#include "proto/state_names.h"
#include "spec/spec.h"

namespace iommuvm::cli {

std::string ProgressLine(const v1::Experiment& e, absl::Duration elapsed) {
  uint32_t done = e.runs_succeeded() + e.runs_failed() + e.runs_cancelled();
  uint32_t total = e.runs_total();
  constexpr int kWidth = 20;
  int filled = total == 0 ? 0 : static_cast<int>(kWidth * done / total);
  std::string bar = std::string(filled, '#') + std::string(kWidth - filled, '-');
  std::string line = absl::StrCat("[", bar, "] ", done, "/", total, " runs (", e.runs_succeeded(),
                                  " ok, ", e.runs_failed(), " failed)");
  for (const auto& r : e.runs()) {
    if (r.state() != v1::RUN_STATE_ACTIVE) continue;
    absl::StrAppend(&line, " | run ", r.index(), " ", r.workload(),
                    " iommu=", iommu::IommuModeName(r.iommu()), " rep ", r.repetition(), " ",
                    StateName(r.attempt_state()));
    break;
  }
  if (!e.waiting().empty()) absl::StrAppend(&line, " | waiting: ", e.waiting());
  absl::StrAppend(&line, " | ", FormatClockTime(elapsed), " elapsed");
  if (done > 0 && done < total) {
    absl::StrAppend(&line, ", ETA ", FormatClockTime(elapsed / done * (total - done)));
  }
  return line;
}

std::optional<v1::ExperimentState> FollowExperiment(Context& ctx,
                                            v1::ControllerService::StubInterface* stub,
                                            int64_t id) {
  absl::Time start = absl::Now();
  grpc::ClientContext rpc;
  v1::WatchExperimentRequest req;
  req.set_experiment_id(id);
  auto reader = stub->WatchExperiment(&rpc, req);
  v1::Experiment e;
  v1::ExperimentState state = v1::EXPERIMENT_STATE_UNSPECIFIED;
  size_t last_len = 0;
  std::string last_line;
  // The watch sends the runs active at first, then the runs that changed:
  // the active ones are kept here, by index.
  std::map<uint32_t, v1::Run> active;
  while (reader->Read(&e)) {
    state = e.state();
    for (const auto& r : e.runs()) {
      if (r.state() == v1::RUN_STATE_ACTIVE) {
        active[r.index()] = r;
      } else {
        active.erase(r.index());
      }
    }
    e.clear_runs();
    for (const auto& [index, r] : active) *e.add_runs() = r;
    std::string line = ProgressLine(e, absl::Now() - start);
    if (ctx.interactive) {
      std::string pad = line.size() < last_len ? std::string(last_len - line.size(), ' ') : "";
      ctx.out << "\r" << line << pad << std::flush;
      last_len = line.size();
    } else if (line != last_line) {  // a log reads better without repeats
      ctx.out << line << "\n" << std::flush;
    }
    last_line = line;
  }
  if (ctx.interactive) ctx.out << "\n";
  grpc::Status s = reader->Finish();
  if (!s.ok()) {
    ctx.err << "iommuvm: lost track of experiment " << id << ": " << s.error_message() << "\n";
    return std::nullopt;
  }
  ctx.out << "experiment " << id << " " << StateName(state) << " in " << FormatClockTime(absl::Now() - start)
          << "\n";
  return state;
}

}  // namespace iommuvm::cli
