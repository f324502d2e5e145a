// `iommuvm certs`: the testbed's own CA, and certificates for the
// controller, each agent and each user (tls/certificate_authority.h).
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "cli/command_support.h"
#include "common/file_system.h"
#include "tls/certificate_authority.h"

namespace iommuvm::cli {
namespace {

constexpr char kCertsUsage[] =
    "usage: iommuvm certs init --dir DIR [--controller-host HOST[,HOST...]]\n"
    "       iommuvm certs issue --dir DIR (--agent ID[,ID...] | --user NAME[,NAME...])\n"
    "       iommuvm certs list --dir DIR [--format table|csv|json]\n"
    "init makes a CA in DIR (ca.crt, ca.key) and the controller's certificate, valid for\n"
    "localhost, 127.0.0.1 and every --controller-host (the names and addresses agents and\n"
    "users reach it by). issue makes agent-ID.crt/.key or user-NAME.crt/.key from that CA.\n"
    "Then: iommuvm-controller --tls_dir DIR; iommuvm-agent --tls_dir D (ca.crt and its\n"
    "agent-ID pair; `iommuvm deploy` copies them); iommuvm --tls_dir DIR.\n";

int Init(Context& ctx, const Args& args, const std::string& dir) {
  tls::InitOptions options;
  for (absl::string_view h :
       absl::StrSplit(args.Get("controller-host", ""), ',', absl::SkipEmpty())) {
    options.controller_hosts.emplace_back(h);
  }
  if (auto s = tls::InitAuthority(dir, options); !s.ok()) {
    ctx.err << "iommuvm: certs init: " << s.message() << "\n";
    return kExitFailure;
  }
  ctx.out << "made a CA and the controller's certificate in " << dir
          << " (keep ca.key private; start iommuvm-controller --tls_dir " << dir << ")\n";
  return kExitOk;
}

int Issue(Context& ctx, const Args& args, const std::string& dir) {
  std::vector<std::pair<tls::PeerKind, std::string>> wanted;
  for (absl::string_view id : absl::StrSplit(args.Get("agent", ""), ',', absl::SkipEmpty())) {
    wanted.emplace_back(tls::PeerKind::kAgent, std::string(id));
  }
  for (absl::string_view n : absl::StrSplit(args.Get("user", ""), ',', absl::SkipEmpty())) {
    wanted.emplace_back(tls::PeerKind::kUser, std::string(n));
  }
  if (wanted.empty()) {
    ctx.err << "iommuvm: certs issue needs --agent ID or --user NAME\n" << kCertsUsage;
    return kExitUsage;
  }
  for (const auto& [kind, name] : wanted) {
    auto path = tls::IssueCertificate(dir, kind, name);
    if (!path.ok()) {
      ctx.err << "iommuvm: certs issue: " << path.status().message() << "\n";
      return kExitFailure;
    }
    ctx.out << "issued " << tls::CommonName(kind, name) << ": " << *path << "\n";
  }
  return kExitOk;
}

int List(Context& ctx, const Args& args, const std::string& dir) {
  auto format = FormatOf(ctx, args);
  if (!format) return kExitUsage;
  LocalFileSystem fs;
  auto names = fs.ListDir(dir);
  if (!names.ok()) {
    ctx.err << "iommuvm: certs list: " << names.status().message() << "\n";
    return kExitFailure;
  }
  Table table({{"file"}, {"identity"}, {"expires"}, {"names"}});
  for (const std::string& name : *names) {
    if (!absl::EndsWith(name, ".crt")) continue;
    auto info = tls::ReadCertificateInfo(fs.ReadFile(dir + "/" + name).value_or(""));
    if (!info.ok()) {
      table.AddRow({name, std::string(info.status().message()), "", ""});
      continue;
    }
    table.AddRow(
        {name, info->common_name,
         absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(info->not_after), absl::UTCTimeZone()),
         absl::StrJoin(info->subject_alt_names, " ")});
  }
  table.Print(ctx.out, *format);
  return kExitOk;
}

}  // namespace

int Certs(Context& ctx, const std::vector<std::string>& argv) {
  int exit_code = kExitOk;
  auto args = ParseCommand(ctx, argv, kCertsUsage, {"dir", "controller-host", "agent", "user"}, {},
                           1, 1, &exit_code);
  if (!args) return exit_code;
  std::string dir = args->Get("dir", "");
  if (dir.empty()) {
    ctx.err << "iommuvm: certs needs --dir DIR\n" << kCertsUsage;
    return kExitUsage;
  }
  const std::string& action = args->positional[0];
  if (action == "init") return Init(ctx, *args, dir);
  if (action == "issue") return Issue(ctx, *args, dir);
  if (action == "list") return List(ctx, *args, dir);
  ctx.err << "iommuvm: unknown certs action '" << action << "'\n" << kCertsUsage;
  return kExitUsage;
}

}  // namespace iommuvm::cli
