#pragma once
// Who may do what, by the peer's certificate (tls/certificate_authority.h):
// an agent certificate for host H may open sessions as H and as H's guests
// ("H/vm"), which run the same agent with the host's certificate; only a
// user certificate may call ControllerService (submit, cancel, read). On a
// plaintext controller (loopback, or --insecure) every peer is trusted.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace iommuvm::service {

class PeerAuthorization {
 public:
  explicit PeerAuthorization(bool tls) : tls_(tls) {}

  // PermissionDenied naming the certificate and the id when a peer whose
  // certificate's common name is `peer_cn` may not register as `agent_id`.
  absl::Status AgentMayRegister(absl::string_view peer_cn, absl::string_view agent_id) const;
  // PermissionDenied unless `peer_cn` is a user's.
  absl::Status UserMayCall(absl::string_view peer_cn) const;

 private:
  bool tls_;
};

}  // namespace iommuvm::service
