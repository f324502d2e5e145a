#include "tls/certificate_authority.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/file_system.h"

namespace iommuvm::tls {
namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

std::string OpenSslError(absl::string_view what) {
  unsigned long code = ERR_get_error();
  char buf[256] = "unknown error";
  if (code != 0) ERR_error_string_n(code, buf, sizeof buf);
  ERR_clear_error();
  return absl::StrCat(what, ": ", buf);
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n > 0 ? n : 0);
}

absl::StatusOr<KeyPtr> NewKey() {
  // P-256: small, fast, and accepted by every TLS stack gRPC builds on.
  KeyPtr key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) return absl::InternalError(OpenSslError("cannot make a key"));
  return key;
}

std::string KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return BioText(bio.get());
}

std::string CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), cert);
  return BioText(bio.get());
}

absl::StatusOr<CertPtr> ParseCert(const std::string& pem, absl::string_view source) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert)
    return absl::InvalidArgumentError(
        OpenSslError(absl::StrCat(source, " is not a PEM certificate")));
  return cert;
}

absl::StatusOr<KeyPtr> ParseKey(const std::string& pem, absl::string_view source) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!key)
    return absl::InvalidArgumentError(
        OpenSslError(absl::StrCat(source, " is not a PEM private key")));
  return key;
}

// Writes `content` to `path` with `mode`, whole or not at all (a temporary
// file renamed over it), so a key is never readable by others even briefly.
absl::Status WriteFileWithMode(const std::string& path, const std::string& content, mode_t mode) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return absl::PermissionDeniedError(absl::StrCat("cannot write ", path, ": ", strerror(errno)));
  bool ok = fchmod(fd, mode) == 0 &&
            write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
            fsync(fd) == 0;
  int saved = errno;
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) saved = errno;
    unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", strerror(saved)));
  }
  return absl::OkStatus();
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) {
    return absl::InternalError(OpenSslError(absl::StrCat("certificate extension ", value)));
  }
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return absl::OkStatus();
}

// A certificate for `subject_key` named `common_name`, signed by
// `issuer`/`issuer_key` (itself when issuer is null).
absl::StatusOr<CertPtr> MakeCertificate(const std::string& common_name, EVP_PKEY* subject_key,
                                        X509* issuer, EVP_PKEY* issuer_key, int days,
                                        const std::vector<std::pair<int, std::string>>& exts) {
  CertPtr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1)
    return absl::InternalError(OpenSslError("RAND_bytes"));
  serial[0] &= 0x7f;  // a positive serial
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_bin2bn(serial, sizeof serial, nullptr),
                                                 BN_free);
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()));
  // An hour of slack for nodes whose clock lags the CA's.
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  X509_set_pubkey(cert.get(), subject_key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("iommuvm"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  for (const auto& [nid, value] : exts) {
    if (auto s = AddExtension(cert.get(), issuer ? issuer : cert.get(), nid, value); !s.ok())
      return s;
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) {
    return absl::InternalError(OpenSslError("cannot sign the certificate"));
  }
  return cert;
}

std::string SubjectAltNames(const std::vector<std::string>& hosts) {
  std::vector<std::string> names = {"DNS:localhost", "IP:127.0.0.1"};
  for (const std::string& h : hosts) {
    if (h.empty() || h == "localhost" || h == "127.0.0.1") continue;
    bool ip = h.find_first_not_of("0123456789.") == std::string::npos || absl::StrContains(h, ':');
    names.push_back(absl::StrCat(ip ? "IP:" : "DNS:", h));
  }
  return absl::StrJoin(names, ",");
}

struct Authority {
  CertPtr cert{nullptr, X509_free};
  KeyPtr key{nullptr, EVP_PKEY_free};
};

absl::StatusOr<Authority> LoadAuthority(const std::string& dir) {
  LocalFileSystem fs;
  auto cert_pem = fs.ReadFile(dir + "/ca.crt");
  auto key_pem = fs.ReadFile(dir + "/ca.key");
  if (!cert_pem.ok() || !key_pem.ok()) {
    return absl::NotFoundError(absl::StrCat("no CA in ", dir,
                                            " (make one: iommuvm certs init --dir ", dir,
                                            " --controller-host HOST)"));
  }
  Authority ca;
  auto cert = ParseCert(*cert_pem, dir + "/ca.crt");
  if (!cert.ok()) return cert.status();
  auto key = ParseKey(*key_pem, dir + "/ca.key");
  if (!key.ok()) return key.status();
  ca.cert = std::move(*cert);
  ca.key = std::move(*key);
  return ca;
}

// Writes the pair for `stem`, signed by `ca`.
absl::StatusOr<std::string> IssueWith(const Authority& ca, const std::string& dir,
                                      const std::string& stem, const std::string& common_name,
                                      std::vector<std::pair<int, std::string>> exts, int days) {
  auto key = NewKey();
  if (!key.ok()) return key.status();
  exts.insert(exts.begin(), {{NID_basic_constraints, "critical,CA:FALSE"},
                             {NID_key_usage, "critical,digitalSignature"},
                             {NID_subject_key_identifier, "hash"},
                             {NID_authority_key_identifier, "keyid:always"}});
  auto cert = MakeCertificate(common_name, key->get(), ca.cert.get(), ca.key.get(), days, exts);
  if (!cert.ok()) return cert.status();
  std::string cert_path = absl::StrCat(dir, "/", stem, ".crt");
  if (auto s = WriteFileWithMode(absl::StrCat(dir, "/", stem, ".key"), KeyPem(key->get()), 0600);
      !s.ok()) {
    return s;
  }
  if (auto s = WriteFileWithMode(cert_path, CertPem(cert->get()), 0644); !s.ok()) return s;
  return cert_path;
}

}  // namespace

std::string CommonName(PeerKind kind, const std::string& name) {
  switch (kind) {
    case PeerKind::kController:
      return "controller";
    case PeerKind::kAgent:
      return "agent:" + name;
    case PeerKind::kUser:
      return "user:" + name;
  }
  return "";
}

std::string FileStem(PeerKind kind, const std::string& name) {
  // The identity as a file name: "agent:node1" -> "agent-node1".
  return absl::StrReplaceAll(CommonName(kind, name), {{":", "-"}});
}

absl::Status CheckPeerName(const std::string& name) {
  if (name.empty() || name.size() > 63 ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
          std::string::npos ||
      name[0] == '.' || name[0] == '-') {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", name, "' cannot name a certificate: use 1-63 letters, digits, '.', '_' or '-'"));
  }
  return absl::OkStatus();
}

absl::Status InitAuthority(const std::string& dir, const InitOptions& options) {
  LocalFileSystem fs;
  if (fs.Exists(dir + "/ca.key")) {
    return absl::AlreadyExistsError(
        absl::StrCat(dir, " already holds a CA; issue from it (iommuvm certs issue --dir ", dir,
                     ") or choose another --dir"));
  }
  if (auto s = fs.MakeDirs(dir); !s.ok()) return s;
  chmod(dir.c_str(), 0700);
  auto key = NewKey();
  if (!key.ok()) return key.status();
  auto cert = MakeCertificate("iommuvm CA", key->get(), nullptr, key->get(), options.ca_days,
                              {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                               {NID_key_usage, "critical,keyCertSign,cRLSign"},
                               {NID_subject_key_identifier, "hash"}});
  if (!cert.ok()) return cert.status();
  if (auto s = WriteFileWithMode(dir + "/ca.key", KeyPem(key->get()), 0600); !s.ok()) return s;
  if (auto s = WriteFileWithMode(dir + "/ca.crt", CertPem(cert->get()), 0644); !s.ok()) return s;
  Authority ca{std::move(*cert), std::move(*key)};
  auto issued =
      IssueWith(ca, dir, FileStem(PeerKind::kController, ""), CommonName(PeerKind::kController, ""),
                {{NID_ext_key_usage, "serverAuth"},
                 {NID_subject_alt_name, SubjectAltNames(options.controller_hosts)}},
                options.certificate_days);
  return issued.status();
}

absl::StatusOr<std::string> IssueCertificate(const std::string& dir, PeerKind kind,
                                             const std::string& name, int days) {
  if (kind == PeerKind::kController) {
    return absl::InvalidArgumentError("the controller's certificate is made by `certs init`");
  }
  if (auto s = CheckPeerName(name); !s.ok()) return s;
  auto ca = LoadAuthority(dir);
  if (!ca.ok()) return ca.status();
  return IssueWith(*ca, dir, FileStem(kind, name), CommonName(kind, name),
                   {{NID_ext_key_usage, "clientAuth"}}, days);
}

absl::StatusOr<CertificateInfo> ReadCertificateInfo(const std::string& pem) {
  auto cert = ParseCert(pem, "the file");
  if (!cert.ok()) return cert.status();
  CertificateInfo info;
  char cn[256] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert->get()), NID_commonName, cn, sizeof cn);
  info.common_name = cn;
  struct tm tm {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert->get()), &tm) == 1) info.not_after = timegm(&tm);
  auto* sans = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert->get(), NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
    if (g->type == GEN_DNS) {
      info.subject_alt_names.push_back(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)));
    } else if (g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == 4) {
      const unsigned char* a = ASN1_STRING_get0_data(g->d.iPAddress);
      info.subject_alt_names.push_back(absl::StrCat(a[0], ".", a[1], ".", a[2], ".", a[3]));
    }
  }
  GENERAL_NAMES_free(sans);
  return info;
}

}  // namespace iommuvm::tls
