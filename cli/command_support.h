#pragma once
// Helpers shared by the commands: argument parsing with the common
// options, --help text, and time formatting.

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cli/commands.h"
#include "common/args.h"
#include "google/protobuf/arena.h"
#include "spec/spec.h"

namespace iommuvm::cli {

inline constexpr char kDefaultController[] = "127.0.0.1:7070";

// Parses argv with --controller, --format, --help plus the command's own
// flags. On --help prints `usage` and sets *exit_code to 0; on errors
// prints them and sets *exit_code to 2. Returns nullopt in both cases.
std::optional<Args> ParseCommand(Context& ctx, const std::vector<std::string>& argv,
                                 const char* usage, std::set<std::string> value_flags,
                                 std::set<std::string> bool_flags, size_t min_positional,
                                 size_t max_positional, int* exit_code);
// What every command that talks to the controller starts with.
struct Invocation {
  Args args;
  Format format = Format::kTable;
  std::string address;
  std::string tls_dir;  // --tls_dir, else $IOMMUVM_TLS_DIR; "" for plaintext
  std::unique_ptr<v1::ControllerService::StubInterface> stub;
};
// ParseCommand + FormatOf + a stub for --controller; nullopt (with
// *exit_code set) when the command should end here.
std::optional<Invocation> Invoke(Context& ctx, const std::vector<std::string>& argv,
                                 const char* usage, std::set<std::string> bool_flags,
                                 size_t min_positional, size_t max_positional, int* exit_code,
                                 std::set<std::string> value_flags = {});
struct LoadedSpec {
  std::string yaml;
  spec::ExperimentSpec spec;
};
// Reads and validates a spec file, printing every error as
// FILE:LINE:COLUMN and a count followed by `consequence`; nullopt when it
// cannot be read or is invalid.
std::optional<LoadedSpec> LoadSpec(Context& ctx, const std::string& path,
                                   const std::string& consequence);

// --format, validated (default table); nullopt after printing the error.
std::optional<Format> FormatOf(Context& ctx, const Args& args);
// Parses an experiment id; nullopt after printing the error.
std::optional<int64_t> ExperimentId(Context& ctx, const std::string& text);
// `c` with the deadline of the CLI's one-shot calls (30 s).
grpc::ClientContext* WithDeadline(grpc::ClientContext* c);
// Each page, in order, as it arrives (on the caller's thread, while later
// pages are still being fetched).
using ResultPageHandler = std::function<void(v1::GetResultsResponse& page)>;
// The result pages of experiment `id`, parsed onto `arena` (which owns
// them: no copy of a row, and no allocation of its own per field), or
// with no arena on the heap, the caller's to delete; nullopt after
// printing why not (and nothing to delete; `on_page` may have seen some).
std::optional<std::vector<v1::GetResultsResponse*>> FetchResultPages(
    Context& ctx, v1::ControllerService::StubInterface* stub, const std::string& address,
    int64_t id, google::protobuf::Arena* arena, const ResultPageHandler& on_page);
// The result rows of experiment `id`; nullopt after printing why not.
std::optional<std::vector<v1::ResultRow>> FetchResults(Context& ctx,
                                                       v1::ControllerService::StubInterface* stub,
                                                       const std::string& address, int64_t id);
// The experiment `req` names with every run `req` asks for, read a page at
// a time; nullopt after printing why not.
std::optional<v1::Experiment> FetchExperiment(Context& ctx,
                                              v1::ControllerService::StubInterface* stub,
                                              const std::string& address,
                                              v1::GetExperimentRequest req);
// "12:05" style mm:ss (h:mm:ss past an hour).
std::string FormatClockTime(absl::Duration d);
std::string FormatTimeMs(int64_t unix_ms);

}  // namespace iommuvm::cli
