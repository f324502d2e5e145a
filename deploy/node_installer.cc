#include "deploy/node_installer.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/command_runner.h"
#include "common/file_system.h"
#include "common/shell_quote.h"
#include "common/units.h"
#include "tls/certificate_authority.h"

namespace iommuvm::deploy {
namespace {

constexpr char kInstallDir[] = "/opt/iommuvm";
constexpr char kUnit[] = "/etc/systemd/system/iommuvm-agent.service";
constexpr char kDefaults[] = "/etc/default/iommuvm-agent";
constexpr char kStateDir[] = "/var/lib/iommuvm-agent";
constexpr char kPidFile[] = "/run/iommuvm-agent.pid";
constexpr char kLogFile[] = "/var/log/iommuvm-agent.log";

// A value that stays one word through systemd's EnvironmentFile and $VAR
// splitting, and through sh.
bool OneWord(const std::string& v) {
  return !v.empty() && v.find_first_not_of(
                           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                           "_.,:=/@%+-[]") == std::string::npos;
}

// What a failed remote step said, in one line, with the cause named when
// it is a known one.
std::string Explain(const RemoteResult& r) {
  std::string text(absl::StripAsciiWhitespace(r.err.empty() ? r.out : r.err));
  if (absl::StrContains(text, "No space left on device")) {
    return absl::StrCat("the disk is full (", text.substr(0, text.find('\n')), ")");
  }
  if (absl::StrContains(text, "sudo") && absl::StrContains(text, "password")) {
    return "sudo asks for a password: the login needs root or password-less sudo";
  }
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  return absl::StrCat(lines.empty() ? "" : lines.back(), " (exit ", r.exit_code, ")");
}

// sh that stops the agent whose pid is in "$pidf" (SIGTERM, up to 20 s,
// then SIGKILL): before a direct start, and at undeploy.
constexpr char kStopByPidFile[] =
    "pid=$(cat \"$pidf\" 2>/dev/null || true)\n"
    "if [ -n \"$pid\" ] && kill -0 \"$pid\" 2>/dev/null; then\n"
    "  kill \"$pid\"; i=0\n"
    "  while kill -0 \"$pid\" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.2; i=$((i+1)); done\n"
    "  kill -9 \"$pid\" 2>/dev/null || true\n"
    "fi\n";

}  // namespace

absl::StatusOr<Bundle> OpenBundle(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the bundle ", path, " (make it: scripts/bundle)"));
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  Bundle b;
  b.path = path;
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
    b.size += static_cast<uint64_t>(in.gcount());
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  for (unsigned int i = 0; i < len; ++i)
    absl::StrAppend(&b.sha256, absl::Hex(digest[i], absl::kZeroPad2));
  b.release = b.sha256.substr(0, 12);
  // Its directory and file list (bundles made before share/files.sha256
  // existed have none and are always sent whole).
  LocalCommandRunner runner;
  CommandSpec list;
  list.argv = {"tar", "-tzf", path};
  list.timeout = absl::Minutes(1);
  auto listed = runner.Run(list);
  if (!listed.ok() || !listed->ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a tar.gz bundle (scripts/bundle)"));
  }
  b.top = listed->out.substr(0, listed->out.find_first_of("/\n"));
  CommandSpec manifest;
  manifest.argv = {"tar", "-xzOf", path, b.top + "/share/files.sha256"};
  manifest.timeout = absl::Minutes(1);
  auto read = runner.Run(manifest);
  if (read.ok() && read->ok()) {
    b.files = ParseFileHashes(read->out);
  }
  return b;
}

std::map<std::string, std::string> ParseFileHashes(const std::string& text) {
  std::map<std::string, std::string> files;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    size_t sep = line.find("  ");
    if (sep == 64) files[std::string(line.substr(sep + 2))] = std::string(line.substr(0, sep));
  }
  return files;
}

absl::StatusOr<std::vector<std::string>> AgentArgs(const DeployNode& node,
                                                   const std::string& controller_address,
                                                   const std::string& release, bool tls,
                                                   bool with_guest) {
  std::vector<std::string> labels;
  for (const auto& [k, v] : node.labels) labels.push_back(absl::StrCat(k, "=", v));
  // Which release registered: how deploy knows the restarted agent is back.
  labels.push_back(absl::StrCat("iommuvm.release=", release));
  std::string root = node.root == "/" ? "" : node.root;
  std::vector<std::string> args = {"--controller", controller_address,
                                   "--id",         node.id,
                                   "--roles",      absl::StrJoin(node.roles, ","),
                                   "--labels",     absl::StrJoin(labels, ",")};
  if (!node.data_address.empty()) args.insert(args.end(), {"--data_address", node.data_address});
  if (!node.data_nic.empty()) {
    args.insert(args.end(), {"--data_nic", node.data_nic});
  } else if (!node.data_mac.empty()) {
    args.insert(args.end(), {"--data_mac", node.data_mac});
  }
  if (tls) args.insert(args.end(), {"--tls_dir", absl::StrCat(root, kInstallDir, "/tls")});
  if (with_guest) {
    args.insert(args.end(), {"--guest_dir", absl::StrCat(root, kInstallDir, "/current/guest")});
  }
  args.insert(args.end(), node.agent_args.begin(), node.agent_args.end());
  for (const std::string& a : args) {
    if (!OneWord(a)) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.source, ": node ", node.id, ": '", a,
                       "' cannot be an agent flag (no spaces, quotes or shell characters)"));
    }
  }
  return args;
}

std::string NodeInstaller::At(const std::string& path) const {
  return node_.root == "/" ? path : absl::StrCat(absl::StripSuffix(node_.root, "/"), path);
}

absl::Status NodeInstaller::Connect() {
  status_("connecting");
  SshOptions o = options_.ssh;
  o.host = node_.host;
  o.port = node_.port;
  o.user = node_.user;
  if (!node_.identity_file.empty()) o.identity_file = node_.identity_file;
  auto s = SshSession::Connect(o);
  if (!s.ok()) return s.status();
  ssh_ = std::move(*s);
  auto facts =
      ssh_->Run("uname -m; id -u; [ -d /run/systemd/system ] && echo systemd || echo no-systemd",
                nullptr, absl::Seconds(30));
  if (!facts.ok()) return facts.status();
  std::vector<std::string> lines = absl::StrSplit(facts->out, '\n', absl::SkipEmpty());
  if (lines.size() < 3) {
    return absl::UnavailableError(absl::StrCat("cannot read the node's facts: ", Explain(*facts)));
  }
  if (lines[0] != "x86_64") {
    return absl::FailedPreconditionError(
        absl::StrCat("the node is ", lines[0], "; the bundle is for x86_64"));
  }
  sudo_ = lines[1] == "0" ? "" : "sudo -n ";
  systemd_ = lines[2] == "systemd";
  if (!sudo_.empty()) {
    auto probe = ssh_->Run("sudo -n true", nullptr, absl::Seconds(30));
    if (!probe.ok()) return probe.status();
    if (!probe->ok()) {
      return absl::PermissionDeniedError(absl::StrCat(
          node_.user, " is not root and cannot sudo without a password (CloudLab logins can)"));
    }
  }
  return absl::OkStatus();
}

std::string NodeInstaller::RootShell(const std::string& script) const {
  return absl::StrCat(sudo_, "sh -c ", ShellQuote(absl::StrCat("set -eu\n", script)));
}

absl::StatusOr<RemoteResult> NodeInstaller::RunScript(const std::string& script,
                                                      absl::Duration timeout) {
  return ssh_->Run(RootShell(script), nullptr, timeout);
}

absl::StatusOr<bool> NodeInstaller::PutFile(const std::string& path, const std::string& content,
                                            const std::string& mode) {
  std::string f = ShellQuote(path);
  std::string script = absl::StrCat(
      "f=", f, "\nmkdir -p \"$(dirname \"$f\")\"\numask 077\ncat > \"$f.new\"\nchmod ", mode,
      " \"$f.new\"\n"
      "if [ -f \"$f\" ] && cmp -s \"$f.new\" \"$f\"; then rm -f \"$f.new\"; echo same;\n"
      "else mv -f \"$f.new\" \"$f\"; echo changed; fi\n");
  auto r = ssh_->RunWithInput(RootShell(script), content, absl::Minutes(1));
  if (!r.ok()) return r.status();
  if (!r->ok())
    return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", Explain(*r)));
  return absl::StrContains(r->out, "changed");
}

absl::StatusOr<RemoteResult> NodeInstaller::Stream(const std::string& path,
                                                   const std::string& command) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  uint64_t size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  uint64_t sent = 0;
  int shown = 0;
  status_("copying 0%");
  std::vector<char> buf(256 << 10);
  auto next = [&]() -> std::string {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    size_t n = static_cast<size_t>(in.gcount());
    sent += n;
    int percent = size == 0 ? 100 : static_cast<int>(sent * 100 / size);
    if (percent != shown) {
      shown = percent;
      status_(absl::StrCat("copying ", percent, "%"));
    }
    return std::string(buf.data(), n);
  };
  return ssh_->Run(RootShell(command), next, absl::Minutes(30));
}

absl::Status NodeInstaller::CopyWhole(const Bundle& bundle, InstallOutcome* outcome) {
  std::string P = ShellQuote(At(kInstallDir));
  std::string rel = bundle.release;
  // Received into incoming/, checked, unpacked beside the release in use.
  auto r = Stream(bundle.path, absl::StrCat("mkdir -p ", P, "/incoming && cat > ", P, "/incoming/",
                                            rel, ".tar.gz"));
  if (!r.ok()) return r.status();
  if (!r->ok()) return absl::UnavailableError(absl::StrCat("copying the bundle: ", Explain(*r)));
  status_("unpacking");
  auto unpacked = RunScript(absl::StrCat(
      "P=", P, "; REL=", rel, "; SHA=", bundle.sha256, "\n", "cd \"$P\"\n",
      "got=$(sha256sum \"incoming/$REL.tar.gz\" 2>/dev/null | cut -d' ' -f1)\n"
      "if [ \"$got\" != \"$SHA\" ]; then echo \"the copy of the bundle is incomplete\" >&2; "
      "exit 3; fi\n"
      "rm -rf \"releases/.$REL.partial\"; mkdir -p \"releases/.$REL.partial\"\n"
      "if ! tar -xzf \"incoming/$REL.tar.gz\" -C \"releases/.$REL.partial\" "
      "--strip-components=1; then\n"
      "  rm -rf \"releases/.$REL.partial\"; exit 4\nfi\n"
      "mv \"releases/.$REL.partial\" \"releases/$REL\"\n"
      "rm -f \"incoming/$REL.tar.gz\"\n"));
  if (!unpacked.ok()) return unpacked.status();
  if (!unpacked->ok()) {
    // Whatever was left is removed; the release in use is untouched.
    (void)RunScript(absl::StrCat("rm -rf ", P, "/incoming ", P, "/releases/.", rel, ".partial"));
    return absl::UnavailableError(absl::StrCat("unpacking the bundle: ", Explain(*unpacked)));
  }
  outcome->sent =
      absl::StrCat("all ", bundle.files.empty() ? "" : absl::StrCat(bundle.files.size(), " "),
                   "files (", HumanBytes(bundle.size), ")");
  return absl::OkStatus();
}

absl::Status NodeInstaller::CopyChanged(const Bundle& bundle, const std::string& remote_manifest,
                                        InstallOutcome* outcome) {
  std::map<std::string, std::string> remote = ParseFileHashes(remote_manifest);
  std::vector<std::string> changed = {bundle.top + "/share/files.sha256"};
  for (const auto& [file, hash] : bundle.files) {
    auto it = remote.find(file);
    if (it == remote.end() || it->second != hash) changed.push_back(bundle.top + "/" + file);
  }
  // The changed files as a small tar.gz, made from the bundle here.
  char tmpl[] = "/tmp/iommuvm-delta-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return absl::InternalError("cannot make a temporary directory");
  std::string tmp = tmpl;
  LocalCommandRunner runner;
  CommandSpec extract;
  extract.argv = {"tar", "-xzf", bundle.path, "-C", tmp};
  extract.argv.insert(extract.argv.end(), changed.begin(), changed.end());
  extract.timeout = absl::Minutes(2);
  CommandSpec pack;
  pack.argv = {"tar", "-czf", tmp + "/delta.tar.gz", "-C", tmp, bundle.top};
  pack.timeout = absl::Minutes(2);
  auto x = runner.Run(extract);
  auto p = x.ok() && x->ok() ? runner.Run(pack) : x;
  absl::Status made = !p.ok()    ? p.status()
                      : !p->ok() ? absl::InternalError(p->Describe("tar"))
                                 : absl::OkStatus();
  uint64_t delta_size = 0;
  if (made.ok()) {
    std::ifstream d(tmp + "/delta.tar.gz", std::ios::binary | std::ios::ate);
    delta_size = static_cast<uint64_t>(d.tellg());
  }
  std::string P = ShellQuote(At(kInstallDir));
  std::string rel = bundle.release;
  // A copy of the release in use, the changed files over it, the files the
  // new bundle no longer has removed, then every file checked.
  auto r =
      made.ok()
          ? Stream(tmp + "/delta.tar.gz",
                   absl::StrCat(
                       "P=", P, "; REL=", rel, "\ncd \"$P\"\n",
                       "rm -rf \"releases/.$REL.partial\"\n"
                       "fail() { rm -rf \"$P/releases/.$REL.partial\"; exit $1; }\n"
                       "cp -a \"$(readlink -f current)\" \"releases/.$REL.partial\" || fail 4\n"
                       "tar -xzf - -C \"releases/.$REL.partial\" --strip-components=1 || "
                       "fail 4\n"
                       "cd \"releases/.$REL.partial\"\n"
                       "awk '{print $2}' share/files.sha256 > .keep\n"
                       "echo share/files.sha256 >> .keep\n"
                       "find . -type f | sed 's|^\\./||' | grep -vxF -f .keep | grep -vx "
                       "'\\.keep' | while read -r f; do rm -f \"$f\"; done\n"
                       "rm -f .keep\n"
                       "sha256sum -c --quiet --strict share/files.sha256 >&2 || { echo "
                       "'the release does not match its file list' >&2; fail 3; }\n"
                       "cd \"$P\"\nmv \"releases/.$REL.partial\" \"releases/$REL\"\n"))
          : absl::StatusOr<RemoteResult>(made);
  (void)LocalFileSystem().RemoveAll(tmp);
  if (!r.ok()) return r.status();
  if (!r->ok())
    return absl::UnavailableError(absl::StrCat("copying the changed files: ", Explain(*r)));
  outcome->sent = absl::StrCat(changed.size() - 1, " of ", bundle.files.size(), " files (",
                               HumanBytes(delta_size), ")");
  return absl::OkStatus();
}

absl::StatusOr<InstallOutcome> NodeInstaller::Install(
    const Bundle& bundle, const std::function<absl::Status()>& before_restart) {
  if (auto s = Connect(); !s.ok()) return s;
  InstallOutcome outcome;
  outcome.release = bundle.release;
  std::string P = ShellQuote(At(kInstallDir));
  std::string rel = bundle.release;
  auto present =
      RunScript(absl::StrCat("[ -d ", P, "/releases/", rel, " ] && echo present || true"));
  if (!present.ok()) return present.status();
  if (!absl::StrContains(present->out, "present")) {
    // An upgrade sends only what changed; a first install, or a node whose
    // release has no file list, gets the whole bundle.
    auto manifest =
        RunScript(absl::StrCat("cat ", P, "/current/share/files.sha256 2>/dev/null || true"));
    if (!manifest.ok()) return manifest.status();
    absl::Status copied = !bundle.files.empty() && !ParseFileHashes(manifest->out).empty()
                              ? CopyChanged(bundle, manifest->out, &outcome)
                              : CopyWhole(bundle, &outcome);
    if (!copied.ok()) return copied;
  }
  status_("configuring");
  bool changed = false;
  if (options_.tls) {
    std::string dir = At(absl::StrCat(kInstallDir, "/tls"));
    std::string stem = tls::FileStem(tls::PeerKind::kAgent, node_.id);
    for (const auto& [name, content, mode] :
         {std::tuple{std::string("ca.crt"), options_.tls->ca_pem, "0644"},
          std::tuple{stem + ".crt", options_.tls->cert_pem, "0644"},
          std::tuple{stem + ".key", options_.tls->key_pem, "0600"}}) {
      auto c = PutFile(absl::StrCat(dir, "/", name), content, mode);
      if (!c.ok()) return c.status();
      changed |= *c;
    }
  }
  auto args = AgentArgs(node_, options_.controller_address, rel, options_.tls.has_value(),
                        bundle.files.count("guest/vmlinuz") > 0);
  if (!args.ok()) return args.status();
  auto defaults = PutFile(At(kDefaults),
                          absl::StrCat("# Written by iommuvm deploy; the agent's flags.\n"
                                       "IOMMUVM_AGENT_ARGS=\"",
                                       absl::StrJoin(*args, " "), "\"\n"),
                          "0644");
  if (!defaults.ok()) return defaults.status();
  changed |= *defaults;
  auto switched = RunScript(absl::StrCat(
      "P=", P, "; REL=", rel, "\ncd \"$P\"\n",
      "old=$(readlink current 2>/dev/null || true)\n"
      "if [ \"$old\" != \"releases/$REL\" ]; then\n"
      "  ln -sfn \"releases/$REL\" current.new && mv -T current.new current\n"
      "  echo switched\n"
      "  for d in releases/*; do\n"  // the release in use and the one before it stay
      "    [ \"$d\" = \"releases/$REL\" ] || [ \"$d\" = \"$old\" ] || rm -rf \"$d\"\n"
      "  done\n"
      "fi\n",
      "mkdir -p \"$(dirname ", ShellQuote(At(kUnit)), ")\"\n",
      "if ! cmp -s current/share/iommuvm-agent.service ", ShellQuote(At(kUnit)), "; then\n",
      "  cp current/share/iommuvm-agent.service ", ShellQuote(At(kUnit)), "; echo unit\nfi\n"));
  if (!switched.ok()) return switched.status();
  if (!switched->ok()) {
    return absl::UnavailableError(
        absl::StrCat("switching to the new release: ", Explain(*switched)));
  }
  changed |=
      absl::StrContains(switched->out, "switched") || absl::StrContains(switched->out, "unit");
  std::string pidf = ShellQuote(At(kPidFile));
  auto running = RunScript(
      Systemd() ? "systemctl is-active --quiet iommuvm-agent && echo running || true"
                : absl::StrCat("pid=$(cat ", pidf,
                               " 2>/dev/null || true); [ -n \"$pid\" ] && kill -0 \"$pid\" "
                               "2>/dev/null && echo running || true"));
  if (!running.ok()) return running.status();
  bool is_running = absl::StrContains(running->out, "running");
  if (!changed && is_running) return outcome;
  if (is_running) {
    status_("waiting for its run to end");
    if (auto s = before_restart(); !s.ok()) return s;
  }
  status_("starting");
  std::string start =
      Systemd() ? "systemctl daemon-reload\nsystemctl enable iommuvm-agent >/dev/null 2>&1\n"
                  "systemctl restart iommuvm-agent\n"
                : absl::StrCat("R=", ShellQuote(node_.root == "/" ? "" : At("")), "; P=", P,
                               "; pidf=", pidf,
                               "\n"
                               "mkdir -p \"$(dirname \"$pidf\")\" \"$R/var/log\" \"$R",
                               kStateDir, "\"\n", kStopByPidFile, ". ", ShellQuote(At(kDefaults)),
                               "\n", "setsid \"$P/current/bin/iommuvm-agent\" --state_dir \"$R",
                               kStateDir, "\" $IOMMUVM_AGENT_ARGS >> \"$R", kLogFile,
                               "\" 2>&1 < /dev/null &\n", "echo $! > \"$pidf\"\n");
  auto started = RunScript(start);
  if (!started.ok()) return started.status();
  if (!started->ok())
    return absl::UnavailableError(absl::StrCat("starting the agent: ", Explain(*started)));
  outcome.restarted = true;
  return outcome;
}

absl::StatusOr<std::vector<std::string>> NodeInstaller::Uninstall(bool purge) {
  if (auto s = Connect(); !s.ok()) return s;
  status_("stopping");
  std::string P = ShellQuote(At(kInstallDir));
  std::string stop = Systemd() ? "systemctl disable --now iommuvm-agent >/dev/null 2>&1 || true\n"
                               : absl::StrCat("pidf=", ShellQuote(At(kPidFile)), "\n",
                                              kStopByPidFile, "rm -f \"$pidf\"\n");
  auto stopped = RunScript(stop);
  if (!stopped.ok()) return stopped.status();
  status_("restoring");
  auto restored = RunScript(absl::StrCat(
      "if [ -x ", P, "/current/bin/iommuvm-agent ]; then ", P,
      "/current/bin/iommuvm-agent restore-node --state_dir ", ShellQuote(At(kStateDir)),
      node_.root == "/" ? "" : absl::StrCat(" --sysroot ", ShellQuote(node_.root)),
      "; else echo 'no agent installed'; fi\n"));
  if (!restored.ok()) return restored.status();
  if (!restored->ok()) {
    return absl::UnavailableError(absl::StrCat("restoring the node: ", Explain(*restored)));
  }
  status_("removing");
  auto removed =
      RunScript(absl::StrCat("rm -f ", ShellQuote(At(kUnit)), " ", ShellQuote(At(kDefaults)), "\n",
                             Systemd() ? "systemctl daemon-reload\n" : "", "rm -rf ", P, "\n",
                             purge ? absl::StrCat("rm -rf ", ShellQuote(At(kStateDir)), " ",
                                                  ShellQuote(At(kLogFile)), "\n")
                                   : ""));
  if (!removed.ok()) return removed.status();
  if (!removed->ok()) return absl::UnavailableError(absl::StrCat("removing: ", Explain(*removed)));
  std::vector<std::string> lines = absl::StrSplit(restored->out, '\n', absl::SkipEmpty());
  return lines;
}

}  // namespace iommuvm::deploy
