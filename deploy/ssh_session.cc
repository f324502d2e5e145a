#include "deploy/ssh_session.h"

#include <libssh/libssh.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace iommuvm::deploy {
namespace {

std::string ServerFingerprint(ssh_session s) {
  ssh_key key = nullptr;
  if (ssh_get_server_publickey(s, &key) != SSH_OK) return "";
  unsigned char* hash = nullptr;
  size_t len = 0;
  std::string out;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &len) == 0) {
    char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
    if (text != nullptr) out = text;
    ssh_string_free_char(text);
    ssh_clean_pubkey_hash(&hash);
  }
  ssh_key_free(key);
  return out;
}

std::string DefaultKnownHosts() {
  const char* home = std::getenv("HOME");
  return absl::StrCat(home ? home : "", "/.ssh/known_hosts");
}

}  // namespace

absl::StatusOr<std::unique_ptr<SshSession>> SshSession::Connect(const SshOptions& o) {
  std::unique_ptr<SshSession> self(new SshSession());
  self->where_ = absl::StrCat(o.user, "@", o.host, ":", o.port);
  ssh_session s = ssh_new();
  if (s == nullptr) return absl::InternalError("libssh: cannot make a session");
  self->session_ = s;
  long timeout = std::max<long>(1, absl::ToInt64Seconds(o.connect_timeout));
  unsigned int port = static_cast<unsigned int>(o.port);
  std::string known_hosts = o.known_hosts.empty() ? DefaultKnownHosts() : o.known_hosts;
  ssh_options_set(s, SSH_OPTIONS_HOST, o.host.c_str());
  ssh_options_set(s, SSH_OPTIONS_PORT, &port);
  if (!o.user.empty()) ssh_options_set(s, SSH_OPTIONS_USER, o.user.c_str());
  ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout);
  ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, known_hosts.c_str());
  if (ssh_connect(s) != SSH_OK) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", o.host, ":", o.port, ": ", ssh_get_error(s)));
  }
  self->fingerprint_ = ServerFingerprint(s);
  switch (ssh_session_is_known_server(s)) {
    case SSH_KNOWN_HOSTS_OK:
      break;
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
      return absl::PermissionDeniedError(absl::StrCat(
          "the host key of ", o.host, ":", o.port, " is ", self->fingerprint_, ", not the one ",
          known_hosts,
          " holds for it: refused (a reinstalled node? check the fingerprint, then remove the "
          "old line: ssh-keygen -R '",
          o.port == 22 ? o.host : absl::StrCat("[", o.host, "]:", o.port), "' -f ", known_hosts,
          ")"));
    case SSH_KNOWN_HOSTS_NOT_FOUND:
    case SSH_KNOWN_HOSTS_UNKNOWN:
      if (!o.accept_new_host_keys) {
        return absl::PermissionDeniedError(absl::StrCat(
            o.host, ":", o.port, " is not in ", known_hosts, "; its host key is ",
            self->fingerprint_,
            " (compare it with the node's, then rerun with --accept-new-host-keys to record "
            "it)"));
      }
      if (ssh_session_update_known_hosts(s) != SSH_OK) {
        return absl::UnavailableError(
            absl::StrCat("cannot record the host key in ", known_hosts, ": ", ssh_get_error(s)));
      }
      break;
    default:
      return absl::UnavailableError(
          absl::StrCat("cannot check the host key of ", o.host, ": ", ssh_get_error(s)));
  }
  int auth = SSH_AUTH_DENIED;
  std::string tried;
  if (!o.identity_file.empty()) {
    ssh_key key = nullptr;
    if (ssh_pki_import_privkey_file(o.identity_file.c_str(), nullptr, nullptr, nullptr, &key) !=
        SSH_OK) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read the private key ", o.identity_file,
                       " (missing, or protected by a "
                       "passphrase: load it into ssh-agent and leave --identity out)"));
    }
    auth = ssh_userauth_publickey(s, nullptr, key);
    ssh_key_free(key);
    tried = o.identity_file;
  } else {
    auth = ssh_userauth_publickey_auto(s, nullptr, nullptr);
    tried = "the ssh-agent and ~/.ssh/id_*";
  }
  if (auth != SSH_AUTH_SUCCESS) {
    return absl::PermissionDeniedError(absl::StrCat(
        "key authentication as ", o.user, " on ", o.host, ":", o.port, " was refused (tried ",
        tried, "; is its public key in the node's ~", o.user, "/.ssh/authorized_keys?)"));
  }
  return self;
}

SshSession::~SshSession() {
  if (session_ != nullptr) {
    ssh_disconnect(session_);
    ssh_free(session_);
  }
}

absl::StatusOr<RemoteResult> SshSession::Run(const std::string& command,
                                             const std::function<std::string()>& input,
                                             absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  ssh_channel ch = ssh_channel_new(session_);
  if (ch == nullptr)
    return absl::UnavailableError(absl::StrCat(where_, ": ", ssh_get_error(session_)));
  auto lost = [&](absl::string_view what) {
    std::string e = absl::StrCat(where_, ": ", what, ": ", ssh_get_error(session_));
    ssh_channel_free(ch);
    return absl::UnavailableError(e);
  };
  if (ssh_channel_open_session(ch) != SSH_OK) return lost("cannot open a channel");
  if (ssh_channel_request_exec(ch, command.c_str()) != SSH_OK) return lost("cannot run a command");
  RemoteResult r;
  char buf[16384];
  auto drain = [&](int timeout_ms) -> bool {
    for (int is_stderr : {0, 1}) {
      int n = ssh_channel_read_timeout(ch, buf, sizeof buf, is_stderr, timeout_ms);
      if (n == SSH_ERROR) return false;
      if (n > 0) (is_stderr ? r.err : r.out).append(buf, n);
    }
    return true;
  };
  // The command may end before it has read everything (a full disk ends
  // `cat`): then its words and exit status are the answer, not the write.
  bool send_failed = false;
  if (input) {
    for (std::string chunk = input(); !chunk.empty() && !send_failed; chunk = input()) {
      size_t done = 0;
      while (done < chunk.size()) {
        int n =
            ssh_channel_write(ch, chunk.data() + done, static_cast<uint32_t>(chunk.size() - done));
        if (n == SSH_ERROR) {
          send_failed = true;
          break;
        }
        done += static_cast<size_t>(n);
        if (absl::Now() > deadline) return lost("timed out while sending");
      }
      if (!send_failed && !drain(0)) return lost("the connection dropped");
    }
  }
  if (!send_failed) ssh_channel_send_eof(ch);
  while (!ssh_channel_is_eof(ch) && ssh_channel_is_open(ch)) {
    if (!drain(100)) {
      return lost(send_failed ? "the connection dropped while sending" : "the connection dropped");
    }
    if (absl::Now() > deadline) {
      ssh_channel_close(ch);
      ssh_channel_free(ch);
      return absl::DeadlineExceededError(absl::StrCat(where_, ": `", command.substr(0, 60),
                                                      "` did not end within ",
                                                      absl::FormatDuration(timeout)));
    }
  }
  if (!drain(0)) return lost("the connection dropped");
  r.exit_code = ssh_channel_get_exit_status(ch);
  if (send_failed && (r.exit_code == 0 || r.exit_code == -1)) {
    return lost("the connection dropped while sending");
  }
  ssh_channel_close(ch);
  ssh_channel_free(ch);
  return r;
}

absl::StatusOr<RemoteResult> SshSession::RunWithInput(const std::string& command,
                                                      const std::string& data,
                                                      absl::Duration timeout) {
  bool sent = false;
  return Run(
      command,
      [&]() -> std::string {
        if (sent) return "";
        sent = true;
        return data;
      },
      timeout);
}

}  // namespace iommuvm::deploy
