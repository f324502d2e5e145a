#pragma once
// The iommuvm CLI's commands. Each takes its arguments (after the command
// name) and returns the process exit code: 0 ok, 1 failure, 2 usage.

#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/table.h"
#include "iommuvm/v1/controller.grpc.pb.h"

namespace iommuvm::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Where and how the CLI reaches the controller.
struct ControllerEndpoint {
  std::string address;
  std::string tls_dir;   // --tls_dir or $IOMMUVM_TLS_DIR; empty: plaintext
  std::string tls_user;  // which user-NAME.crt (default: $USER, or the only one)
};

// A stub for the endpoint, or why there can be none (unreadable
// certificates).
using StubFactory =
    std::function<absl::StatusOr<std::unique_ptr<v1::ControllerService::StubInterface>>(
        const ControllerEndpoint&)>;

struct Context {
  std::ostream& out;
  std::ostream& err;
  StubFactory make_stub;
  bool interactive = false;  // stdout is a terminal: redraw progress in place
};

int Submit(Context& ctx, const std::vector<std::string>& argv);
int Status(Context& ctx, const std::vector<std::string>& argv);
int Results(Context& ctx, const std::vector<std::string>& argv);
int Agents(Context& ctx, const std::vector<std::string>& argv);
int Cancel(Context& ctx, const std::vector<std::string>& argv);
int Rerun(Context& ctx, const std::vector<std::string>& argv);
int DiffEnv(Context& ctx, const std::vector<std::string>& argv);
int Artifacts(Context& ctx, const std::vector<std::string>& argv);
int Compare(Context& ctx, const std::vector<std::string>& argv);
int Query(Context& ctx, const std::vector<std::string>& argv);
int Report(Context& ctx, const std::vector<std::string>& argv);
int Plan(Context& ctx, const std::vector<std::string>& argv);
int Validate(Context& ctx, const std::vector<std::string>& argv);
int VmExplain(Context& ctx, const std::vector<std::string>& argv);
int Certs(Context& ctx, const std::vector<std::string>& argv);
int Deploy(Context& ctx, const std::vector<std::string>& argv);
int Undeploy(Context& ctx, const std::vector<std::string>& argv);

// Fetches and prints an experiment's results; false on RPC failure.
bool PrintResults(Context& ctx, v1::ControllerService::StubInterface* stub,
                  const std::string& address, int64_t id, Format format);
// "rpc failed: <status>" with a hint when the controller is unreachable.
std::string RpcError(const grpc::Status& s, const std::string& address);

}  // namespace iommuvm::cli
