#pragma once
// Small things the process-level benchmarks share: a scratch directory, the
// open-files limit, medians, and calling the controller's public API.

#include <sys/resource.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/usage_config.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "iommuvm/v1/controller.grpc.pb.h"

namespace iommuvm::bench {

// A new directory under $TMPDIR (or /tmp), or `given` when set.
inline absl::StatusOr<std::string> MakeScratchDir(const std::string& given,
                                                  const std::string& name) {
  if (!given.empty()) return given;
  const char* tmp = std::getenv("TMPDIR");
  std::string templ =
      absl::StrCat(tmp != nullptr && *tmp != 0 ? tmp : "/tmp", "/", name, "-XXXXXX");
  if (::mkdtemp(templ.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("cannot create a directory like ", templ));
  }
  return templ;
}

// --help lists the flags defined under bench/ (absl's default looks for a
// file named like the program).
inline void HelpShowsBenchFlags() {
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view path) {
    return absl::StrContains(path, "bench/");
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  absl::SetFlagsUsageConfig(config);
}

// Raises this process's RLIMIT_NOFILE soft limit to the hard limit (a
// connection per simulated agent); returns the soft limit it had.
inline rlim_t RaiseFileLimit() {
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  rlim_t before = files.rlim_cur;
  files.rlim_cur = files.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &files);
  return before;
}

// /proc/loadavg's 1, 5 and 15 minute averages ("0.52 0.61 0.70"): what
// else the machine ran during a measurement.
inline std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return absl::StrCat(one, " ", five, " ", fifteen);
}

inline double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Submits `yaml`; its id, or the controller's errors.
inline absl::StatusOr<int64_t> SubmitSpec(v1::ControllerService::Stub& stub,
                                          const std::string& yaml, const std::string& file_name,
                                          absl::Duration timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v1::SubmitExperimentRequest req;
  req.set_spec_yaml(yaml);
  req.set_file_name(file_name);
  v1::SubmitExperimentResponse resp;
  grpc::Status s = stub.SubmitExperiment(&ctx, req, &resp);
  if (!s.ok()) return absl::UnavailableError(absl::StrCat("submit: ", s.error_message()));
  if (resp.experiment_id() == 0) {
    std::vector<std::string> errors;
    for (const auto& e : resp.errors()) {
      errors.push_back(absl::StrCat(e.file(), ":", e.line(), ":", e.column(), ": ", e.key_path(),
                                    ": ", e.message()));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("the controller refused ", file_name, ":\n  ", absl::StrJoin(errors, "\n  ")));
  }
  return resp.experiment_id();
}

}  // namespace iommuvm::bench
