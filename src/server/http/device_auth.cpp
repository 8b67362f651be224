#include "server/http/device_auth.h"

#include <spdlog/spdlog.h>

#include "common/keys.h"
#include "server/http/middleware.h"

namespace canopy::server {

namespace {

using httplib::Request;
using httplib::Response;

// The decision for the connection of `req` and the key text `public_key`
// (the enrolled one, or the one being enrolled); a key that does not parse
// matches no certificate.
CertificateDecision decide_for(DeviceCertificates certificates, const Request& req,
                               const std::string& public_key) {
  auto key = PublicKey::from_text(public_key);
  return decide_device_certificate(certificates, peer_certificate(req.ssl), key.ok() ? key->bytes : "");
}

// Logged for the operator (docs/security.md, "Mutual TLS for devices"): a
// mismatch is someone holding a device's token without its key, or a device
// whose certificate files were replaced.
void log_refusal(const char* event, CertificateDecision decision, const std::string& device_id,
                 const Request& req) {
  spdlog::warn("{}.certificate_{} device={} address={} path={}", event,
               decision == CertificateDecision::kMissing ? "missing" : "mismatch", device_id, req.remote_addr,
               req.path);
}

Result<std::string> authenticate(Fleet& fleet, DeviceCertificates certificates, const Request& req) {
  const std::string auth = req.get_header_value("Authorization");
  if (!req.get_header_value("X-API-KEY").empty() || auth.rfind("Bearer ", 0) != 0)
    return make_error(ErrorCode::kUnauthenticated,
                      "a valid device token is required (send it as Authorization: Bearer cdt_...)");
  CANOPY_ASSIGN_OR_RETURN(std::string device_id, fleet.authenticate_device(std::string_view(auth).substr(7)));
  if (certificates == DeviceCertificates::kOff) return device_id;
  CANOPY_ASSIGN_OR_RETURN(std::string enrolled, fleet.enrolled_key(device_id));
  const CertificateDecision decision = decide_for(certificates, req, enrolled);
  if (decision == CertificateDecision::kAccepted) return device_id;
  log_refusal("device", decision, device_id, req);
  return device_certificate_refusal(decision);
}

}  // namespace

httplib::Server::Handler device_guarded(Fleet& fleet, DeviceCertificates certificates,
                                        DeviceHandler handler) {
  return [&fleet, certificates, handler = std::move(handler)](const Request& req, Response& res) {
    auto device = authenticate(fleet, certificates, req);
    if (!device.ok()) return send_error(res, device.error());
    handler(req, res, *device);
  };
}

httplib::Server::HandlerWithContentReader device_guarded_reader(Fleet& fleet, DeviceCertificates certificates,
                                                                DeviceReaderHandler handler) {
  return [&fleet, certificates, handler = std::move(handler)](const Request& req, Response& res,
                                                              const httplib::ContentReader& reader) {
    auto device = authenticate(fleet, certificates, req);
    if (!device.ok()) {
      res.set_header("Connection", "close");  // the unread body is dropped with the connection
      return send_error(res, device.error());
    }
    handler(req, res, reader, *device);
  };
}

Status check_enrollment_certificate(DeviceCertificates certificates, const Request& req,
                                    const std::string& public_key) {
  if (certificates == DeviceCertificates::kOff) return {};
  const CertificateDecision decision = decide_for(certificates, req, public_key);
  if (decision == CertificateDecision::kAccepted) return {};
  auto key = PublicKey::from_text(public_key);
  log_refusal("fleet.enroll", decision, key.ok() ? key->key_id() : "", req);
  if (decision == CertificateDecision::kOtherKey)
    return make_error(ErrorCode::kUnauthenticated,
                      "the TLS client certificate's key is not the public key this enrollment carries");
  return device_certificate_refusal(decision);
}

}  // namespace canopy::server
