#pragma once
// iommuvm's own certificate authority (`iommuvm certs`): one CA per
// testbed, a server certificate for the controller and a client
// certificate per agent and per user. Who a peer is comes from its
// certificate's common name ("agent:node1", "user:alice", "controller"), so
// the controller can refuse an agent that registers under another id.
//
// A CA directory holds ca.crt and ca.key (0600) and every certificate
// issued from it as NAME.crt / NAME.key with NAME = FileStem(kind, name)
// ("controller", "agent-node1", "user-alice"). The same directory (or a
// copy of ca.crt with one party's pair) is what --tls_dir points at.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace iommuvm::tls {

enum class PeerKind { kController, kAgent, kUser };

// "controller", "agent:ID", "user:NAME": the certificate's subject CN.
std::string CommonName(PeerKind kind, const std::string& name);
// "controller", "agent-ID", "user-NAME": the files' name without .crt/.key.
std::string FileStem(PeerKind kind, const std::string& name);

// Agent ids and user names that may be put in a certificate: the id
// grammar agents accept (letters, digits, '.', '_', '-'; no '/', which
// separates a host from its guests).
absl::Status CheckPeerName(const std::string& name);

struct InitOptions {
  // Names and addresses agents and users reach the controller by (its
  // CloudLab hostname, its experiment-LAN IP); localhost and 127.0.0.1
  // are always included.
  std::vector<std::string> controller_hosts;
  int ca_days = 3650;
  int certificate_days = 825;
};

// Creates the CA and the controller's certificate in `dir` (created 0700).
// Refuses when dir already holds a CA: re-initialising would orphan every
// certificate issued from it.
absl::Status InitAuthority(const std::string& dir, const InitOptions& options);

// Issues a certificate for `kind`/`name` from the CA in `dir`, written as
// dir/FileStem.crt and .key; replaces an earlier one of the same name.
// Returns the certificate's path.
absl::StatusOr<std::string> IssueCertificate(const std::string& dir, PeerKind kind,
                                             const std::string& name, int days = 825);

// The subject common name and the expiry (seconds since the epoch) of a
// PEM certificate: what `certs list` and the start-up checks show.
struct CertificateInfo {
  std::string common_name;
  int64_t not_after = 0;
  std::vector<std::string> subject_alt_names;
};
absl::StatusOr<CertificateInfo> ReadCertificateInfo(const std::string& pem);

}  // namespace iommuvm::tls
