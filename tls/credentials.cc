#include "tls/credentials.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace iommuvm::tls {

absl::StatusOr<TlsFiles> LoadTlsFiles(const FileSystem& fs, const std::string& dir,
                                      const std::string& stem) {
  TlsFiles files;
  files.cert_path = absl::StrCat(dir, "/", stem, ".crt");
  struct Want {
    std::string path;
    std::string* into;
    std::string make;
  };
  Want wants[] = {
      {dir + "/ca.crt", &files.ca_pem, absl::StrCat("iommuvm certs init --dir ", dir)},
      {files.cert_path, &files.cert_pem, absl::StrCat("iommuvm certs issue --dir ", dir, " ...")},
      {absl::StrCat(dir, "/", stem, ".key"), &files.key_pem,
       absl::StrCat("iommuvm certs issue --dir ", dir, " ...")}};
  for (Want& w : wants) {
    auto text = fs.ReadFile(w.path);
    if (!text.ok()) {
      return absl::NotFoundError(
          absl::StrCat("TLS: ", text.status().message(), " (make it: ", w.make, ")"));
    }
    *w.into = std::move(*text);
  }
  return files;
}

absl::StatusOr<std::string> UserCertificateStem(const FileSystem& fs, const std::string& dir,
                                                const std::string& user) {
  std::string name = user;
  if (name.empty()) {
    const char* env = std::getenv("USER");
    if (env != nullptr && fs.Exists(absl::StrCat(dir, "/user-", env, ".crt"))) name = env;
  }
  if (!name.empty()) return absl::StrCat("user-", name);
  std::vector<std::string> found;
  for (const std::string& f : fs.ListDir(dir).value_or(std::vector<std::string>{})) {
    if (absl::StartsWith(f, "user-") && absl::EndsWith(f, ".crt")) {
      found.push_back(std::string(absl::StripSuffix(f, ".crt")));
    }
  }
  if (found.size() == 1) return found[0];
  return absl::NotFoundError(
      absl::StrCat("TLS: ", found.empty() ? "no" : "more than one", " user certificate in ", dir,
                   found.empty() ? " (make one: iommuvm certs issue --dir DIR --user NAME)"
                                 : " (choose one with --tls_user NAME)"));
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const TlsFiles& files) {
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = files.ca_pem;
  options.pem_key_cert_pairs.push_back({files.key_pem, files.cert_pem});
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const TlsFiles& files) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = files.ca_pem;
  options.pem_private_key = files.key_pem;
  options.pem_cert_chain = files.cert_pem;
  return grpc::SslCredentials(options);
}

std::string PeerCommonName(const grpc::ServerContextBase& context) {
  auto auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return "";
  auto values = auth->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
  if (values.empty()) return "";
  return std::string(values.front().data(), values.front().size());
}

}  // namespace iommuvm::tls
