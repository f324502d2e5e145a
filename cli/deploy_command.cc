// `iommuvm deploy` / `undeploy`: the bundle and the agent's service onto
// every node of a CloudLab manifest or an inventory, over SSH, then wait
// until each agent has registered with the controller.
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/command_support.h"
#include "cli/node_status_board.h"
#include "common/file_system.h"
#include "deploy/inventory.h"
#include "deploy/manifest.h"
#include "deploy/node_installer.h"
#include "tls/certificate_authority.h"

namespace iommuvm::cli {
namespace {

constexpr char kDeployUsage[] =
    "usage: iommuvm deploy (--manifest FILE | --inventory FILE) [--bundle FILE]\n"
    "                      [--controller ADDR] [--tls_dir CA_DIR] [--user NAME] [--lan NAME]\n"
    "                      [--servers ID,...] [--clients ID,...] [--identity KEY]\n"
    "                      [--known-hosts FILE] [--accept-new-host-keys] [--jobs N]\n"
    "                      [--wait DURATION] [--agents-dial ADDR] [--dry-run]\n"
    "                      [--format table|json]\n"
    "Installs the bundle (scripts/bundle) under /opt/iommuvm on every node over SSH,\n"
    "writes and starts the iommuvm-agent service with the node's id, roles, labels, data NIC\n"
    "and address, and waits until each agent has registered with the controller at ADDR\n"
    "(also the address the agents dial, unless --agents-dial gives theirs: the controller's\n"
    "experiment-LAN address when you reach it by another). A node that has the bundle\n"
    "already is not sent it again, an upgrade sends only the files that changed, and an\n"
    "agent is restarted only between runs. --manifest reads the RSpec XML of a\n"
    "CloudLab experiment (--lan picks the experiment LAN when there are several; roles\n"
    "alternate server, client unless --servers/--clients name them); --inventory a YAML list\n"
    "of nodes (deploy/inventory.h). --tls_dir: the CA from `iommuvm certs init`; each agent\n"
    "gets its certificate (issued when missing). Host keys must be in known_hosts, or are\n"
    "recorded on first contact with --accept-new-host-keys. --dry-run prints the nodes\n"
    "without connecting.\n";

constexpr char kUndeployUsage[] =
    "usage: iommuvm undeploy (--manifest FILE | --inventory FILE) [--purge] [SSH options]\n"
    "Stops every node's agent, undoes the boot configuration it wrote (grub drop-in and\n"
    "one-shot entry, staged kexec kernel) and its VFIO bindings, removes the service and\n"
    "/opt/iommuvm: the node boots its original command line again. The agent's state\n"
    "(/var/lib/iommuvm-agent: results not yet sent) is kept unless --purge. Takes the same\n"
    "node and SSH options as deploy.\n";

std::string ReadWhole(const std::string& path, std::string* error) {
  auto text = LocalFileSystem().ReadFile(path);
  if (!text.ok()) {
    *error = absl::StrCat("cannot read ", path);
    return "";
  }
  return *text;
}

std::string LocalUser() {
  const char* u = std::getenv("USER");
  return u ? u : "root";
}

// The nodes named by --manifest or --inventory; nullopt after printing why.
std::optional<std::vector<deploy::DeployNode>> LoadNodes(Context& ctx, const Args& args) {
  std::string manifest = args.Get("manifest", ""), inventory = args.Get("inventory", "");
  if (manifest.empty() == inventory.empty()) {
    ctx.err << "iommuvm: give exactly one of --manifest FILE and --inventory FILE\n";
    return std::nullopt;
  }
  std::string error;
  std::string text = ReadWhole(manifest.empty() ? inventory : manifest, &error);
  if (!error.empty()) {
    ctx.err << "iommuvm: " << error << "\n";
    return std::nullopt;
  }
  absl::StatusOr<std::vector<deploy::DeployNode>> nodes;
  std::string user = args.Get("user", LocalUser());
  if (!manifest.empty()) {
    nodes = deploy::ParseManifest(text, {.user = user,
                                         .lan = args.Get("lan", ""),
                                         .servers = args.Get("servers", ""),
                                         .clients = args.Get("clients", ""),
                                         .source = manifest});
  } else {
    nodes = deploy::ParseInventory(text, inventory, user);
  }
  if (!nodes.ok()) {
    ctx.err << "iommuvm: " << nodes.status().message() << "\n";
    return std::nullopt;
  }
  if (!args.Get("identity", "").empty()) {
    for (auto& n : *nodes) {
      if (n.identity_file.empty()) n.identity_file = args.Get("identity", "");
    }
  }
  return std::move(*nodes);
}

deploy::SshOptions SshDefaults(const Args& args) {
  deploy::SshOptions ssh;
  ssh.known_hosts = args.Get("known-hosts", "");
  ssh.accept_new_host_keys = args.Has("accept-new-host-keys");
  return ssh;
}

// Runs `work` for every node, at most `jobs` at once.
void ForEachNode(const std::vector<deploy::DeployNode>& nodes, int jobs,
                 const std::function<void(const deploy::DeployNode&)>& work) {
  std::mutex mu;
  size_t next = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < std::max(1, jobs); ++t) {
    threads.emplace_back([&] {
      for (;;) {
        size_t i;
        {
          std::lock_guard lock(mu);
          if (next == nodes.size()) return;
          i = next++;
        }
        work(nodes[i]);
      }
    });
  }
  for (auto& t : threads) t.join();
}

// The controller's view of agent `id`; nullopt when it does not know it.
std::optional<v1::Agent> FindAgent(v1::ControllerService::StubInterface* stub,
                                   const std::string& id, grpc::Status* status) {
  grpc::ClientContext rpc;
  rpc.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::ListAgentsResponse resp;
  *status = stub->ListAgents(&rpc, v1::ListAgentsRequest(), &resp);
  for (const v1::Agent& a : resp.agents()) {
    if (a.agent_id() == id) return a;
  }
  return std::nullopt;
}

// The live lines: on stdout above the table, redrawn on a terminal; on
// stderr when stdout carries csv or json for a script.
NodeStatusBoard Board(Context& ctx, Format format, const std::vector<deploy::DeployNode>& nodes) {
  std::vector<std::string> ids;
  for (const auto& n : nodes) ids.push_back(n.id);
  struct winsize ws {};
  size_t columns = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 0;
  bool table = format == Format::kTable;
  return NodeStatusBoard(table ? ctx.out : ctx.err, table && ctx.interactive, std::move(ids),
                         columns);
}

const std::set<std::string> kNodeFlags = {"manifest", "inventory", "user",        "lan", "servers",
                                          "clients",  "identity",  "known-hosts", "jobs"};

}  // namespace

int Deploy(Context& ctx, const std::vector<std::string>& argv) {
  int exit_code = kExitOk;
  std::set<std::string> value_flags = kNodeFlags;
  value_flags.insert({"bundle", "wait", "agents-dial"});
  auto inv = Invoke(ctx, argv, kDeployUsage, {"accept-new-host-keys", "dry-run"}, 0, 0, &exit_code,
                    value_flags);
  if (!inv) return exit_code;
  const Args& args = inv->args;
  auto nodes = LoadNodes(ctx, args);
  if (!nodes) return kExitFailure;
  if (args.Has("dry-run")) {
    if (inv->format == Format::kJson) {
      ctx.out << deploy::NodesJson(*nodes) << "\n";
      return kExitOk;
    }
    Table t({{"id"},
             {"host"},
             {"port", true},
             {"user"},
             {"roles"},
             {"labels"},
             {"data_address"},
             {"data_mac"}});
    for (const auto& n : *nodes) {
      std::vector<std::string> labels;
      for (const auto& [k, v] : n.labels) labels.push_back(absl::StrCat(k, "=", v));
      t.AddRow({n.id, n.host, absl::StrCat(n.port), n.user, absl::StrJoin(n.roles, ","),
                absl::StrJoin(labels, ","), n.data_address, n.data_mac});
    }
    t.Print(ctx.out, inv->format);
    return kExitOk;
  }
  absl::Duration wait = absl::Minutes(2);
  if (args.Has("wait") && !absl::ParseDuration(args.Get("wait", ""), &wait)) {
    ctx.err << "iommuvm: --wait '" << args.Get("wait", "") << "' is not a duration (2m, 90s)\n";
    return kExitUsage;
  }
  std::string bundle_path =
      args.Get("bundle", absl::StrCat("build/iommuvm-", IOMMUVM_VERSION, "-linux-x86_64.tar.gz"));
  auto bundle = deploy::OpenBundle(bundle_path);
  if (!bundle.ok()) {
    ctx.err << "iommuvm: " << bundle.status().message() << "\n";
    return kExitFailure;
  }
  // The CA the CLI's own certificate comes from issues the agents' too.
  const std::string& ca_dir = inv->tls_dir;
  std::vector<deploy::DeployNode> agents;
  for (const auto& n : *nodes) {
    if (n.roles.empty()) {
      ctx.err << n.id << ": not on the experiment LAN; no agent there\n";
    } else {
      agents.push_back(n);
    }
  }
  NodeStatusBoard board = Board(ctx, inv->format, agents);
  struct Row {
    std::string result = "failed", detail;
    deploy::InstallOutcome outcome;
    absl::Duration took;
  };
  std::mutex rows_mu;
  std::map<std::string, Row> rows;
  int jobs = 8;
  (void)absl::SimpleAtoi(args.Get("jobs", "8"), &jobs);
  auto* stub = inv->stub.get();
  ForEachNode(agents, jobs, [&](const deploy::DeployNode& node) {
    absl::Time start = absl::Now();
    Row row;
    auto finish = [&](const std::string& result, const std::string& detail) {
      row.result = result;
      row.detail = detail;
      row.took = absl::Now() - start;
      board.Set(node.id, detail.empty() ? result : absl::StrCat(result, ": ", detail));
      std::lock_guard lock(rows_mu);
      rows[node.id] = row;
    };
    deploy::InstallOptions options;
    options.controller_address = args.Get("agents-dial", inv->address);
    options.ssh = SshDefaults(args);
    if (!ca_dir.empty()) {
      LocalFileSystem fs;
      std::string stem = tls::FileStem(tls::PeerKind::kAgent, node.id);
      if (!fs.Exists(absl::StrCat(ca_dir, "/", stem, ".crt"))) {
        auto issued = tls::IssueCertificate(ca_dir, tls::PeerKind::kAgent, node.id);
        if (!issued.ok()) return finish("failed", std::string(issued.status().message()));
      }
      auto files = tls::LoadTlsFiles(fs, ca_dir, stem);
      if (!files.ok()) return finish("failed", std::string(files.status().message()));
      options.tls = *files;
    }
    deploy::NodeInstaller installer(node, options,
                                    [&](const std::string& s) { board.Set(node.id, s); });
    auto idle = [&]() -> absl::Status {
      // Restart between runs: wait while the controller has it busy.
      absl::Time deadline = absl::Now() + absl::Hours(2);
      for (;;) {
        grpc::Status s;
        auto a = FindAgent(stub, node.id, &s);
        if (!s.ok() || !a || a->health() != v1::NODE_HEALTH_BUSY) return absl::OkStatus();
        if (absl::Now() > deadline)
          return absl::DeadlineExceededError("its run did not end in 2 h");
        absl::SleepFor(absl::Seconds(2));
      }
    };
    auto outcome = installer.Install(*bundle, idle);
    if (!outcome.ok()) return finish("failed", std::string(outcome.status().message()));
    row.outcome = *outcome;
    board.Set(node.id, "waiting for registration");
    absl::Time deadline = absl::Now() + wait;
    for (;;) {
      grpc::Status s;
      auto a = FindAgent(stub, node.id, &s);
      if (a && a->connected() && a->labels().count("iommuvm.release") &&
          a->labels().at("iommuvm.release") == bundle->release) {
        return finish("registered", "");
      }
      if (absl::Now() > deadline) {
        return finish("failed",
                      s.ok() ? absl::StrCat("installed, but the agent did not register within ",
                                            absl::FormatDuration(wait),
                                            " (see journalctl -u iommuvm-agent on the node)")
                             : absl::StrCat("installed; ", RpcError(s, inv->address)));
      }
      absl::SleepFor(absl::Milliseconds(500));
    }
  });
  Table summary({{"node"},
                 {"host"},
                 {"roles"},
                 {"release"},
                 {"sent"},
                 {"restarted"},
                 {"seconds", true},
                 {"result"},
                 {"detail"}});
  int failed = 0;
  for (const auto& n : agents) {
    const Row& r = rows[n.id];
    failed += r.result != "registered";
    summary.AddRow({n.id, absl::StrCat(n.host, ":", n.port), absl::StrJoin(n.roles, ","),
                    r.outcome.release, r.outcome.sent.empty() ? "nothing" : r.outcome.sent,
                    r.outcome.restarted ? "yes" : "no",
                    absl::StrFormat("%.1f", absl::ToDoubleSeconds(r.took)), r.result, r.detail});
  }
  if (inv->format == Format::kTable) ctx.out << "\n";
  summary.Print(ctx.out, inv->format);
  if (failed > 0 && inv->format == Format::kTable) {
    ctx.err << failed << " of " << agents.size()
            << " nodes failed; rerun the same command to finish (done nodes are kept)\n";
  }
  return failed > 0 ? kExitFailure : kExitOk;
}

int Undeploy(Context& ctx, const std::vector<std::string>& argv) {
  int exit_code = kExitOk;
  auto args = ParseCommand(ctx, argv, kUndeployUsage, kNodeFlags, {"accept-new-host-keys", "purge"},
                           0, 0, &exit_code);
  if (!args) return exit_code;
  auto format = FormatOf(ctx, *args);
  if (!format) return kExitUsage;
  auto nodes = LoadNodes(ctx, *args);
  if (!nodes) return kExitFailure;
  std::vector<deploy::DeployNode> agents;
  for (const auto& n : *nodes) {
    if (!n.roles.empty()) agents.push_back(n);
  }
  NodeStatusBoard board = Board(ctx, *format, agents);
  std::mutex mu;
  std::map<std::string, std::pair<std::string, std::string>> rows;
  int jobs = 8;
  (void)absl::SimpleAtoi(args->Get("jobs", "8"), &jobs);
  ForEachNode(agents, jobs, [&](const deploy::DeployNode& node) {
    deploy::InstallOptions options;
    options.ssh = SshDefaults(*args);
    deploy::NodeInstaller installer(node, options,
                                    [&](const std::string& s) { board.Set(node.id, s); });
    auto done = installer.Uninstall(args->Has("purge"));
    std::pair<std::string, std::string> row =
        done.ok() ? std::pair{std::string("restored"), absl::StrJoin(*done, "; ")}
                  : std::pair{std::string("failed"), std::string(done.status().message())};
    board.Set(node.id, row.first);
    std::lock_guard lock(mu);
    rows[node.id] = row;
  });
  Table summary({{"node"}, {"result"}, {"detail"}});
  int failed = 0;
  for (const auto& n : agents) {
    failed += rows[n.id].first != "restored";
    summary.AddRow({n.id, rows[n.id].first, rows[n.id].second});
  }
  if (*format == Format::kTable) ctx.out << "\n";
  summary.Print(ctx.out, *format);
  return failed > 0 ? kExitFailure : kExitOk;
}

}  // namespace iommuvm::cli
