#include "cli/command_support.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "cli/pages_in_order.h"
#include "spec/spec_parser.h"

namespace iommuvm::cli {

std::optional<Args> ParseCommand(Context& ctx, const std::vector<std::string>& argv,
                                 const char* usage, std::set<std::string> value_flags,
                                 std::set<std::string> bool_flags, size_t min_positional,
                                 size_t max_positional, int* exit_code) {
  value_flags.insert({"controller", "format", "tls_dir", "tls_user"});
  bool_flags.insert("help");
  auto args = ParseArgs(argv, value_flags, bool_flags);
  if (args.ok() && args->Has("help")) {
    ctx.out << usage;
    *exit_code = kExitOk;
    return std::nullopt;
  }
  std::string error;
  if (!args.ok()) {
    error = std::string(args.status().message());
  } else if (args->positional.size() < min_positional) {
    error = "missing argument";
  } else if (args->positional.size() > max_positional) {
    error = "unexpected argument '" + args->positional[max_positional] + "'";
  }
  if (!error.empty()) {
    ctx.err << "iommuvm: " << error << "\n" << usage;
    *exit_code = kExitUsage;
    return std::nullopt;
  }
  return *args;
}

std::optional<LoadedSpec> LoadSpec(Context& ctx, const std::string& path,
                                   const std::string& consequence) {
  std::ifstream in(path);
  if (!in) {
    ctx.err << "iommuvm: cannot read " << path << ": " << std::strerror(errno) << "\n";
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  spec::ParseResult parsed = spec::ParseSpec(text.str());
  for (const auto& e : parsed.errors) ctx.err << e.Format(path) << "\n";
  if (!parsed.spec) {
    ctx.err << path << ": " << parsed.errors.size() << " error"
            << (parsed.errors.size() == 1 ? "" : "s") << consequence << "\n";
    return std::nullopt;
  }
  return LoadedSpec{text.str(), std::move(*parsed.spec)};
}

std::optional<Format> FormatOf(Context& ctx, const Args& args) {
  auto f = ParseFormat(args.Get("format", "table"));
  if (!f.ok()) {
    ctx.err << "iommuvm: " << f.status().message() << "\n";
    return std::nullopt;
  }
  return *f;
}

std::optional<Invocation> Invoke(Context& ctx, const std::vector<std::string>& argv,
                                 const char* usage, std::set<std::string> bool_flags,
                                 size_t min_positional, size_t max_positional, int* exit_code,
                                 std::set<std::string> value_flags) {
  auto args = ParseCommand(ctx, argv, usage, std::move(value_flags), std::move(bool_flags), min_positional,
                           max_positional, exit_code);
  if (!args) return std::nullopt;
  auto format = FormatOf(ctx, *args);
  if (!format) {
    *exit_code = kExitUsage;
    return std::nullopt;
  }
  Invocation inv;
  inv.address = args->Get("controller", kDefaultController);
  const char* env_tls = std::getenv("IOMMUVM_TLS_DIR");
  inv.tls_dir = args->Get("tls_dir", env_tls ? env_tls : "");
  ControllerEndpoint endpoint{inv.address, inv.tls_dir, args->Get("tls_user", "")};
  auto stub = ctx.make_stub(endpoint);
  if (!stub.ok()) {
    ctx.err << "iommuvm: " << stub.status().message() << "\n";
    *exit_code = kExitFailure;
    return std::nullopt;
  }
  inv.stub = std::move(*stub);
  inv.format = *format;
  inv.args = std::move(*args);
  return inv;
}

grpc::ClientContext* WithDeadline(grpc::ClientContext* c) {
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return c;
}

std::optional<std::vector<v1::GetResultsResponse*>> FetchResultPages(
    Context& ctx, v1::ControllerService::StubInterface* stub, const std::string& address,
    int64_t id, google::protobuf::Arena* arena, const ResultPageHandler& on_page) {
  std::vector<v1::GetResultsResponse*> pages;
  // Without an arena the pages are the caller's, but not after a failure.
  auto failed = [&](const grpc::Status& s) {
    ctx.err << "iommuvm: " << RpcError(s, address) << "\n";
    if (arena == nullptr) {
      for (v1::GetResultsResponse* page : pages) delete page;
    }
    return std::nullopt;
  };
  v1::GetResultsRequest req;
  req.set_experiment_id(id);
  auto* first = google::protobuf::Arena::CreateMessage<v1::GetResultsResponse>(arena);
  pages.push_back(first);
  {
    grpc::ClientContext rpc;
    grpc::Status s = stub->GetResults(WithDeadline(&rpc), req, first);
    if (!s.ok()) return failed(s);
  }
  on_page(*first);
  auto later = FetchLaterPages<v1::GetResultsResponse>(
      *first, [&] { return google::protobuf::Arena::CreateMessage<v1::GetResultsResponse>(arena); },
      [&](const std::string& token, v1::GetResultsResponse* page) {
        v1::GetResultsRequest page_req = req;
        page_req.set_page_token(token);
        grpc::ClientContext rpc;
        return stub->GetResults(WithDeadline(&rpc), page_req, page);
      },
      on_page);
  for (v1::GetResultsResponse* page : later.pages) {
    if (page != nullptr) pages.push_back(page);
  }
  if (!later.status.ok()) return failed(later.status);
  return pages;
}

std::optional<std::vector<v1::ResultRow>> FetchResults(Context& ctx,
                                                       v1::ControllerService::StubInterface* stub,
                                                       const std::string& address, int64_t id) {
  // On the heap, not an arena: each row is moved out of its page (a
  // swap), not copied (a sixth of `report`'s time at 10k rows).
  std::vector<v1::ResultRow> rows;
  auto pages = FetchResultPages(ctx, stub, address, id, /*arena=*/nullptr,
                                [&](v1::GetResultsResponse& page) {
                                  if (rows.empty()) {  // the first page: as many again per token
                                    rows.reserve(page.rows_size() * (page.page_tokens_size() + 1));
                                  }
                                  for (v1::ResultRow& row : *page.mutable_rows()) {
                                    rows.push_back(std::move(row));
                                  }
                                });
  if (!pages) return std::nullopt;
  for (v1::GetResultsResponse* page : *pages) delete page;
  return rows;
}

std::optional<v1::Experiment> FetchExperiment(Context& ctx,
                                              v1::ControllerService::StubInterface* stub,
                                              const std::string& address,
                                              v1::GetExperimentRequest req) {
  auto failed = [&](const grpc::Status& s) {
    ctx.err << "iommuvm: " << RpcError(s, address) << "\n";
    return std::nullopt;
  };
  v1::Experiment all;  // the experiment with its first page, then the runs of the others
  {
    grpc::ClientContext rpc;
    grpc::Status s = stub->GetExperiment(WithDeadline(&rpc), req, &all);
    if (!s.ok()) return failed(s);
  }
  auto later = FetchLaterPages<v1::Experiment>(
      all, [] { return new v1::Experiment; },
      [&](const std::string& token, v1::Experiment* page) {
        v1::GetExperimentRequest page_req = req;
        page_req.set_page_token(token);
        grpc::ClientContext rpc;
        return stub->GetExperiment(WithDeadline(&rpc), page_req, page);
      },
      [&](v1::Experiment& page) {
        for (auto& run : *page.mutable_runs()) *all.add_runs() = std::move(run);
      });
  for (v1::Experiment* page : later.pages) delete page;
  if (!later.status.ok()) return failed(later.status);
  all.clear_next_page_token();
  all.clear_page_tokens();
  return all;
}

std::optional<int64_t> ExperimentId(Context& ctx, const std::string& text) {
  int64_t id;
  if (!absl::SimpleAtoi(text, &id) || id <= 0) {
    ctx.err << "iommuvm: '" << text << "' is not an experiment id (a positive number)\n";
    return std::nullopt;
  }
  return id;
}

std::string FormatClockTime(absl::Duration d) {
  int64_t s = absl::ToInt64Seconds(d);
  if (s < 0) s = 0;
  if (s >= 3600) return absl::StrFormat("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
  return absl::StrFormat("%02d:%02d", s / 60, s % 60);
}

std::string FormatTimeMs(int64_t unix_ms) {
  if (unix_ms == 0) return "";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(unix_ms),
                          absl::LocalTimeZone());
}

std::string RpcError(const grpc::Status& s, const std::string& address) {
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return "cannot reach the controller at " + address + ": " + s.error_message() +
           " (is iommuvm-controller running? see --controller; one with TLS needs --tls_dir)";
  }
  return s.error_message();
}

}  // namespace iommuvm::cli
