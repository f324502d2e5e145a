#pragma once
// gRPC credentials from a TLS directory (tls/certificate_authority.h):
// the controller's server side requires and verifies a client certificate
// from its CA; agents and the CLI present theirs and verify the
// controller's. Without a directory everything is plaintext, which the
// controller allows only on loopback (or with --insecure).

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_context.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/file_system.h"

namespace iommuvm::tls {

// One party's view of the CA: the CA certificate and its own pair.
struct TlsFiles {
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
  std::string cert_path;  // for messages
};

// dir/ca.crt and dir/STEM.crt, dir/STEM.key; NotFound naming the missing
// file and the `iommuvm certs` command that makes it.
absl::StatusOr<TlsFiles> LoadTlsFiles(const FileSystem& fs, const std::string& dir,
                                      const std::string& stem);

// The stem of the user certificate the CLI presents from `dir`: user-NAME
// for `user` when given, else for $USER, else the only user-*.crt there.
absl::StatusOr<std::string> UserCertificateStem(const FileSystem& fs, const std::string& dir,
                                                const std::string& user);

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const TlsFiles& files);
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const TlsFiles& files);

// The verified peer certificate's common name ("agent:node1"); empty on a
// plaintext connection.
std::string PeerCommonName(const grpc::ServerContextBase& context);

}  // namespace iommuvm::tls
