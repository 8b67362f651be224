#include "common/self_signed.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>

#include "common/files.h"
#include "common/openssl_handles.h"

namespace canopy {

namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kClockSlackS = 3600;

Error failed(const char* step) {
  return make_error(ErrorCode::kInternal, std::string("cannot make a self-signed certificate (") + step +
                                              "): " + openssl_error("no reason given"));
}

template <class Write>
std::string pem_of(Write write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return "";
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

Status add_extension(X509* x, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  if (extension == nullptr) return failed("extensions");
  const int added = X509_add_ext(x, extension, -1);
  X509_EXTENSION_free(extension);
  if (added != 1) return failed("extensions");
  return {};
}

// "DNS:host,IP:127.0.0.1"
std::string alt_names_of(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) {
    unsigned char address[16];
    const bool is_ip =
        inet_pton(AF_INET, name.c_str(), address) == 1 || inet_pton(AF_INET6, name.c_str(), address) == 1;
    out += (out.empty() ? "" : ",") + std::string(is_ip ? "IP:" : "DNS:") + name;
  }
  return out;
}

Result<KeyPtr> key_of(const std::string& ed25519_seed) {
  KeyPtr key(ed25519_seed.empty()
                 ? EVP_EC_gen("P-256")
                 : EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                                reinterpret_cast<const unsigned char*>(ed25519_seed.data()),
                                                ed25519_seed.size()));
  if (!key) return failed("key");
  return key;
}

}  // namespace

std::string openssl_error(std::string_view when_none) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return std::string(when_none);
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

Status write_self_signed(const SelfSignedRequest& request, const fs::path& cert_file,
                         const fs::path& key_file) {
  CANOPY_ASSIGN_OR_RETURN(KeyPtr key, key_of(request.ed25519_seed));
  X509Ptr certificate(X509_new());
  X509* x = certificate.get();
  if (x == nullptr || X509_set_version(x, X509_VERSION_3) != 1) return failed("certificate");
  BignumPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x)) == nullptr)
    return failed("serial number");
  const bool dated = request.lifetime_s
                         ? X509_gmtime_adj(X509_getm_notBefore(x), -kClockSlackS) != nullptr &&
                               X509_gmtime_adj(X509_getm_notAfter(x), *request.lifetime_s) != nullptr
                         : ASN1_TIME_set_string_X509(X509_getm_notBefore(x), "19700101000000Z") == 1 &&
                               ASN1_TIME_set_string_X509(X509_getm_notAfter(x), "99991231235959Z") == 1;
  if (!dated) return failed("validity");
  if (X509_set_pubkey(x, key.get()) != 1) return failed("public key");
  X509_NAME* subject = X509_get_subject_name(x);
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(request.common_name.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(x, subject) != 1)
    return failed("name");
  CANOPY_TRY(add_extension(x, NID_basic_constraints, "critical,CA:FALSE"));
  if (!request.alt_names.empty())
    CANOPY_TRY(add_extension(x, NID_subject_alt_name, alt_names_of(request.alt_names)));
  if (request.client_auth) {
    CANOPY_TRY(add_extension(x, NID_key_usage, "critical,digitalSignature"));
    CANOPY_TRY(add_extension(x, NID_ext_key_usage, "clientAuth"));
  }
  // Ed25519 signs the message itself: it takes no digest.
  if (X509_sign(x, key.get(), request.ed25519_seed.empty() ? EVP_sha256() : nullptr) == 0)
    return failed("signature");

  const std::string key_pem = pem_of([&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  const std::string cert_pem = pem_of([&](BIO* bio) { return PEM_write_bio_X509(bio, x); });
  if (key_pem.empty() || cert_pem.empty()) return failed("PEM");
  std::error_code ec;
  fs::create_directories(cert_file.parent_path(), ec);
  fs::create_directories(key_file.parent_path(), ec);
  CANOPY_TRY(write_file_atomic(key_file, key_pem, 0600));
  return write_file_atomic(cert_file, cert_pem, 0644);
}

}  // namespace canopy
