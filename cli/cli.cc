#include "cli/cli.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "common/file_system.h"
#include "tls/credentials.h"

namespace iommuvm::cli {
namespace {

constexpr char kUsage[] =
    "usage: iommuvm <command> [options]\n"
    "\n"
    "Measure what IOMMU protection costs: submit experiment specs to an\n"
    "iommuvm-controller, follow them, and read their results.\n"
    "\n"
    "commands:\n"
    "  submit FILE [--wait]               submit an experiment spec (--wait: follow it live)\n"
    "  validate FILE                      check a spec without submitting it\n"
    "  plan FILE [--pairs N]              boots, runs and makespan per pair, before any reboot\n"
    "  status [EXP]                       list experiments, or the runs of one\n"
    "  results EXP                        measured results of an experiment\n"
    "  compare EXP [--metric M]           each IOMMU mode against a baseline, with CIs\n"
    "  query [--db FILE] SQL              read-only SQL on a results database\n"
    "  report EXP [--out FILE]            the experiment as one self-contained HTML file\n"
    "  agents                             connected and known agents\n"
    "  cancel EXP                         cancel the unfinished runs of an experiment\n"
    "  rerun EXP [--failed] [--unsteady]  new attempts for failed or unsteady runs\n"
    "  diff-env EXP RUN_A RUN_B           the environment two runs were measured in, knob by knob\n"
    "  artifacts EXP RUN [NAME]           raw tool output and server logs an attempt kept\n"
    "  vm-explain FILE.xml                a libvirt domain's vIOMMU and the mode its guest runs\n"
    "  certs init|issue|list --dir DIR    a CA, and certificates for the controller, agents, "
    "users\n"
    "\n"
    "options (all commands):\n"
    "  --controller ADDR   controller address (default 127.0.0.1:7070)\n"
    "  --tls_dir DIR       mutual TLS with ca.crt and user-NAME.crt/.key from DIR\n"
    "                      (default $IOMMUVM_TLS_DIR; `iommuvm certs`)\n"
    "  --tls_user NAME     which user certificate in DIR (default $USER, or the only one)\n"
    "  --format FMT        table, csv or json (status, results, compare, query, agents, "
    "artifacts;\n"
    "                      vm-explain: table or json)\n"
    "  --help              this text, or `iommuvm COMMAND --help`\n"
    "\n"
    "exit codes: 0 ok, 1 failure, 2 usage error\n";

}  // namespace

StubFactory GrpcStubFactory() {
  return [](const ControllerEndpoint& endpoint)
             -> absl::StatusOr<std::unique_ptr<v1::ControllerService::StubInterface>> {
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
    if (!endpoint.tls_dir.empty()) {
      LocalFileSystem fs;
      auto stem = tls::UserCertificateStem(fs, endpoint.tls_dir, endpoint.tls_user);
      if (!stem.ok()) return stem.status();
      auto files = tls::LoadTlsFiles(fs, endpoint.tls_dir, *stem);
      if (!files.ok()) return files.status();
      credentials = tls::ChannelCredentials(*files);
    }
    // Replies come in pages well below gRPC's 4 MB default; the larger
    // limit is only a safety net for a reply that outgrows it anyway.
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    return std::unique_ptr<v1::ControllerService::StubInterface>(v1::ControllerService::NewStub(
        grpc::CreateCustomChannel(endpoint.address, credentials, args)));
  };
}

int RunCli(const std::vector<std::string>& argv, Context& ctx) {
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
    (argv.empty() ? ctx.err : ctx.out) << kUsage;
    return argv.empty() ? kExitUsage : kExitOk;
  }
  static const std::map<std::string, int (*)(Context&, const std::vector<std::string>&)> kCommands =
      {{"submit", Submit},   {"status", Status}, {"results", Results},   {"agents", Agents},
       {"cancel", Cancel},   {"plan", Plan},     {"validate", Validate}, {"artifacts", Artifacts},
       {"compare", Compare}, {"query", Query},   {"report", Report},     {"vm-explain", VmExplain},
       {"certs", Certs},     {"deploy", Deploy}, {"undeploy", Undeploy}, {"rerun", Rerun},
       {"diff-env", DiffEnv}};
  auto it = kCommands.find(argv[0]);
  if (it == kCommands.end()) {
    ctx.err << "iommuvm: unknown command '" << argv[0] << "'\n\n" << kUsage;
    return kExitUsage;
  }
  return it->second(ctx, std::vector<std::string>(argv.begin() + 1, argv.end()));
}

}  // namespace iommuvm::cli
